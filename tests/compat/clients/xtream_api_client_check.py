"""xtream-api-client 0.1.0: a wrong password must raise its XtreamAuthenticationError
(it raises that only for a JSON answer with user_info.auth in {0, false, "0"}; an HTTP
error status would raise XtreamHTTPError instead), and the right one reads the account.

argv: SERVER USERNAME PASSWORD
"""
import json
import sys
import traceback

from xtream_api_client import XtreamClient
from xtream_api_client.exceptions import XtreamAuthenticationError


def main():
    server, user, password = sys.argv[1:4]
    try:
        info = XtreamClient(server, user, password + "-wrong").get_account_info()
    except XtreamAuthenticationError:
        pass
    except Exception as e:
        raise AssertionError(f"wrong password raised {type(e).__name__}: {e}, want XtreamAuthenticationError")
    else:
        raise AssertionError(f"wrong password accepted: {json.dumps(info)[:300]}")

    c = XtreamClient(server, user, password)
    acct = c.get_account_info_parsed()
    if acct.status != "Active" or acct.username != user:
        raise AssertionError(f"account info: status={acct.status!r} username={acct.username!r}, "
                             f"raw user_info {json.dumps(acct.raw.get('user_info'))[:300]}")
    if acct.max_connections is None or acct.exp_date is None:
        raise AssertionError(f"account info lacks max_connections/exp_date: {json.dumps(acct.raw.get('user_info'))[:300]}")
    live = c.get_live_streams()
    if len(live) != 4:
        raise AssertionError(f"get_live_streams: {len(live)} entries, want 4")
    print(json.dumps({"status": acct.status, "max_connections": acct.max_connections,
                      "exp_date": acct.exp_date, "live": len(live)}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        traceback.print_exc()
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
