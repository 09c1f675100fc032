"""pyxtream 0.8.0 (the library Hypnotix vendors) with its JSON-schema validation on.

argv: SERVER USERNAME PASSWORD CACHE_DIR
Prints a JSON summary on success; on failure the last line of stderr is the reason.

pyxtream's validate_json only *prints* schema violations and carries on, so this
script wraps its schemaValidator to collect them and fails on any.
"""
import base64
import binascii
import json
import sys
import traceback

import pyxtream.pyxtream as px
from pyxtream import api
from pyxtream.schemaValidator import SchemaType, schemaValidator

violations = []


def recording_validator(data, schema_type):
    ok = schemaValidator(data, schema_type)
    if not ok:
        violations.append({"schema": schema_type.name, "object": data})
    return ok


px.schemaValidator = recording_validator


def fail(msg):
    raise AssertionError(msg)


def main():
    server, user, password, cache = sys.argv[1:5]
    x = px.XTream("compat", user, password, server, cache_path=cache,
                  reload_time_sec=-1, validate_json=True)
    if not x.state["authenticated"]:
        fail("not authenticated (player_api login answer not usable)")
    if not x.load_iptv():
        fail("load_iptv() returned False")
    counts = {"channels": len(x.channels), "movies": len(x.movies), "series": len(x.series)}
    if counts != {"channels": 4, "movies": 1, "series": 1}:
        fail(f"loaded {counts}, want 4 channels, 1 movie, 1 series")

    # Series: pyxtream's own call, plus its SERIES schema on the raw answer
    # (get_series_info_by_id itself does not validate).
    serie = x.series[0]
    raw_info = x._load_series_info_by_id_from_provider(serie.series_id)
    if raw_info is None:
        fail(f"get_series_info&series_id={serie.series_id} gave no JSON")
    recording_validator(raw_info, SchemaType.SERIES)
    x.get_series_info_by_id(serie)
    episodes = [e for s in serie.seasons.values() for e in s.episodes.values()]
    if len(episodes) != 3:
        fail(f"series {serie.name!r}: {len(episodes)} episodes in {len(serie.seasons)} season(s), want 3")
    for e in episodes:
        if not x._validate_url(e.url):
            fail(f"episode {e.title!r}: bad URL {e.url!r}")

    # VOD info: XTream.vodInfoByID() is broken in 0.8.0 (it passes base_url as
    # the requests timeout -> ValueError), so call the same request it means to
    # make: _get_request(api.get_VOD_info_URL_by_ID(...)). pyxtream has no VOD
    # info schema; check the keys its users (and Hypnotix) read.
    movie = x.movies[0]
    vod = x._get_request(api.get_VOD_info_URL_by_ID(movie.id, x.base_url))
    if not isinstance(vod, dict):
        fail(f"get_vod_info&vod_id={movie.id} gave {vod!r}")
    if not isinstance(vod.get("info"), dict) or not isinstance(vod.get("movie_data"), dict):
        fail(f"get_vod_info: want objects info and movie_data, got {json.dumps(vod)[:300]}")
    md = vod["movie_data"]
    if md.get("stream_id") != movie.id or not md.get("container_extension"):
        fail(f"get_vod_info movie_data {json.dumps(md)[:300]} does not match stream {movie.id}")

    # Short EPG for the first channel (liveEpgByStream works in 0.8.0).
    ch = x.channels[0]
    epg = x.liveEpgByStream(ch.id)
    listings = (epg or {}).get("epg_listings")
    if not listings:
        fail(f"get_short_epg&stream_id={ch.id}: no epg_listings in {json.dumps(epg)[:300]}")
    titles = []
    for item in listings:
        try:
            titles.append(base64.b64decode(item["title"], validate=True).decode("utf-8"))
        except (KeyError, binascii.Error, UnicodeDecodeError) as e:
            fail(f"EPG listing title is not base64 UTF-8 ({e}): {json.dumps(item)[:300]}")
        if not titles[-1].strip():
            fail(f"EPG listing title decodes to an empty string: {json.dumps(item)[:300]}")

    if violations:
        v = violations[0]
        fail(f"{len(violations)} object(s) failed pyxtream's schemas; first ({v['schema']}): "
             f"{json.dumps(v['object'])[:400]}")
    print(json.dumps({**counts, "episodes": len(episodes), "epg_titles": titles}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the last stderr line is the check's reason
        traceback.print_exc()
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
