"""iptvpy's MacPortal (a MAG firmware emulation, POST forms) against tvgate's
Stalker portal: version.js, xpcom.common.js, handshake, profile, account info,
genres, channel list, then a live link whose stream ffprobe must read.

    python iptvpy_check.py SERVER MAC SECRET...

SECRET values (the line's password, ...) must not appear in any link.
"""

import json
import subprocess
import sys

from iptvpy import MacPortal


def fail(msg):
    print(msg)
    sys.exit(1)


def main():
    server, mac, secrets = sys.argv[1], sys.argv[2], sys.argv[3:]
    authority = server.split("://", 1)[1].rstrip("/")
    portal = MacPortal(server + "/stalker_portal/c", mac)
    # iptvpy sends `Host: 127.0.0.1` without the port (a client bug; real
    # boxes send the port), and tvgate builds links from Host.
    portal.scraper.headers["Host"] = authority
    portal.load_profile(db=True)
    if portal.status != "on":
        fail(f"portal status {portal.status!r} after load_profile")
    profile = portal.get_profile_data
    if profile.get("status") != 0:
        fail(f"get_profile status {profile.get('status')!r}: {json.dumps(profile)[:300]}")
    print("profile ok; end_date", portal.get_main_info_data.get("end_date"))
    if not portal.itv_genres or portal.itv_genres[0].get("id") != "*":
        fail(f"genres: {portal.itv_genres!r}")
    if not portal.all_channels:
        fail("no channels")
    print(f"{len(portal.itv_genres)} genres, {len(portal.all_channels)} channels")
    channel_id = next(iter(portal.all_channels))
    link = portal.load_live(channel_id)
    if not isinstance(link, str) or not link.startswith(f"{server}/stalker/live/"):
        fail(f"create_link gave {link!r}")
    leaked = [s for s in secrets + [mac, mac.replace(":", "")] if s and s in link]
    if leaked:
        fail(f"the link carries credentials or the MAC: {link}")
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rw_timeout", "15000000", "-show_entries",
         "stream=codec_type,codec_name", "-of", "json", link],
        capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0:
        fail(f"ffprobe failed on {link}: {out.stderr.strip()[:300]}")
    codecs = sorted(f"{s['codec_type']}:{s['codec_name']}" for s in json.loads(out.stdout)["streams"])
    print("streams:", ",".join(codecs))
    if "video:h264" not in codecs:
        fail(f"want video:h264, got {codecs}")


if __name__ == "__main__":
    main()
