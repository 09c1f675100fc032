#!/usr/bin/env python3
"""Fills in bench/nginx.conf (the lean reference nginx) for lib.sh's start_nginx.

usage: nginx_conf.py TEMPLATE PREFIX ROOT PORT CPUMASK [LOGIN_JSON]

With LOGIN_JSON, /player_api.php answers those exact bytes from memory
(`return 200 '...'`); without it, ROOT/player_api.json is served as a file.
"""
import sys


def nginx_quote(body: str) -> str:
    """A single-quoted nginx string holding BODY byte for byte.

    nginx's parser turns \\\\ into \\, \\' into ', and \\n \\t \\r into control
    characters, so every backslash is doubled and every quote escaped. A '$'
    would start a variable in `return`'s text: refused rather than guessed at.
    """
    if "$" in body:
        sys.exit("nginx_conf.py: the login JSON holds a '$', which return would read as a variable")
    return "'" + body.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main() -> None:
    tpl, prefix, root, port, mask = sys.argv[1:6]
    login = sys.argv[6] if len(sys.argv) > 6 else ""
    if login:
        with open(login, "rb") as f:
            what = "return 200 " + nginx_quote(f.read().decode()) + ";"
    else:
        what = "alias " + root + "/player_api.json;"
    with open(tpl) as f:
        conf = f.read()
    for key, value in (
        ("@PREFIX@", prefix),
        ("@ROOT@", root),
        ("@PORT@", port),
        ("@CPUMASK@", mask),
        ("@LOGIN@", what),
    ):
        conf = conf.replace(key, value)
    sys.stdout.write(conf)


if __name__ == "__main__":
    main()
