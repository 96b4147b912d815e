"""Regenerate the README's screenshots from a built site, in Debian's headless chromium.

    make build && .venv/bin/python scripts/screenshots.py --site site

starts its own `kgpub serve --site DIR` on 127.0.0.1 (a free port), opens the home, topic and
entry pages at 1280x800 and as a 375x740 phone, and writes viewport-sized PNGs (not full pages,
to keep them small) to docs/screenshots/: home.png, topic.png, entry.png, home-phone.png, ...

The browser is launched exactly as in the browser tests (tests/browser/browserutil.py:
executable $CHROMIUM or /usr/bin/chromium, the same flags, no host but 127.0.0.1 resolvable).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "browser"), str(REPO / "tests")]

import browserutil as bu  # noqa: E402

from serverutil import running_server  # noqa: E402

NAMES = ("home", "topic", "entry")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=REPO / "site",
                        help="a built site (kgpub build); default: site/ in the repository")
    parser.add_argument("--project", type=Path, default=REPO,
                        help="the project the site was built from (default: this repository)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots",
                        help="where the PNGs go (default: docs/screenshots)")
    parser.add_argument("--pages", default=",".join(NAMES),
                        help=f"comma-separated names among {', '.join(bu.PAGES)} "
                             f"(default: {','.join(NAMES)})")
    parser.add_argument("--no-phone", action="store_true", help="desktop screenshots only")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="device scale factor (2 for sharper, 4x larger, files)")
    args = parser.parse_args(argv)

    if not (args.site / "index.html").is_file():
        parser.error(f"{args.site} is not a built site (no index.html): run `make build` first")
    names = [n.strip() for n in args.pages.split(",") if n.strip()]
    unknown = [n for n in names if n not in bu.PAGES]
    if unknown:
        parser.error(f"unknown page(s) {unknown}; known: {', '.join(bu.PAGES)}")
    reason = bu.chromium_missing()
    if reason:
        print(reason.replace("browser tests skipped", "cannot take screenshots"), file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    devices = [("", bu.DESKTOP)] + ([] if args.no_phone else [("-phone", bu.PHONE)])
    problems = 0
    with running_server(args.project.resolve(), args.site.resolve(), "--host", "127.0.0.1") as base:
        with sync_playwright() as pw:
            browser = bu.launch(pw)
            try:
                for suffix, options in devices:
                    context = browser.new_context(**options, device_scale_factor=args.scale)
                    page = context.new_page()
                    log = bu.watch(page)
                    for name in names:
                        log.clear()
                        bu.visit(page, base, name)
                        path = bu.save_screenshot(
                            page, args.out / f"{name}{suffix}.png", full_page=False
                        )
                        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}"
                              f"  {path.stat().st_size // 1024} KiB")
                        for line in bu.page_problems(page, base, name):
                            problems += 1
                            print(f"  warning: {name}: {line}", file=sys.stderr)
                    context.close()
            finally:
                browser.close()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
