"""report.html opened in a real browser: headless chromium renders it to a screenshot that shows the
text and the embedded slices (not a blank or broken page).

`.ci/run` installs Debian's chromium; elsewhere the test skips when no chromium is installed,
but in CI (env CI set) a missing chromium fails it.
"""

import os
import shutil
import subprocess

import matplotlib.image
import pytest

from BrainTumorAILib.report.html import write_report
from test_report import report_run  # noqa: F401 (fixture)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1200, 3000


@pytest.fixture(scope="module")
def chromium() -> str:
    path = next((found for found in map(shutil.which, CHROMIUM_NAMES) if found), None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium in CI: .ci/run installs Debian's chromium (apt-get install chromium)")
        pytest.skip("no chromium installed (apt-get install chromium); CI installs it and runs this test")
    return path


def screenshot(chromium: str, page, png, profile) -> None:
    """Render `page` headless into `png` (a fresh profile, so parallel tests do not share one)."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", "--no-first-run", f"--user-data-dir={profile}",
               f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={png}", page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"


def test_report_renders_in_chromium(chromium, report_run, tmp_path):  # noqa: F811 (fixture)
    page = write_report(report_run, tmp_path / "report.html")
    png = tmp_path / "report.png"
    screenshot(chromium, page, png, tmp_path / "profile")
    grey = matplotlib.image.imread(png)[..., :3].mean(axis=-1)
    assert grey.shape == (HEIGHT, WIDTH)
    assert grey.std() > 0.15  # not a blank page
    assert (grey < 0.95).mean() > 0.1  # text, tables and pictures cover the page
    # the slices' black backgrounds: only decoded embedded images make large near-black areas
    # (text alone leaves under 1% of the pixels this dark; the synthetic report about 9%)
    assert (grey < 0.1).mean() > 0.03
