"""What a correct frame costs a person in the editor: user actions (clicks, drags, key presses) and wall time.

A scratch database gets the demo project (both barbell-row files imported, images referenced in
place), a server is started on it (`manage.py runserver`, DEBUG on, a free local port) and Playwright
drives Debian's Chromium (/usr/bin/chromium, or POSEREVIEW_CHROMIUM) as an annotator. Logging in and
opening the frame are not counted; every click, drag (one press) and key press from the frame shown
to the frame submitted is. Three loops:

- label_from_scratch: a 24-point frame with no annotation and no prediction: click each point where
  it belongs (the editor selects the next unplaced point down the body after each), then Ctrl+Enter.
  Target: <= 26 actions.
- fix_three_points: a frame with no annotation whose model prediction has 3 points 40 px off: drag
  the three, confirm the rest (Shift+C), submit (Ctrl+Enter). Target: <= 8 actions.
- keyboard_loop: the same correction by keyboard alone: Tab to each wrong point, Shift+Arrow
  (10 px a press), Shift+C, Ctrl+Enter.

Each loop checks what the server stored (every point placed, where it was meant to be, the frame
submitted) and fails loudly otherwise. Prints one JSON object per line: {"metric", "value", "unit"}.

    .venv/bin/python -m webapp.dev bench bench/annotator_actions.py

Environment: DATABASE_URL (a scratch database is created next to it), POSEREVIEW_DATASET (the
barbell-row dataset; default ../shared/datasets/barbell-row).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scratch_db import django_on_scratch_database  # noqa: E402

BENCH_DB = "posereview_bench_actions"
DATASET = Path(os.environ.get("POSEREVIEW_DATASET", ROOT.parent / "shared" / "datasets" / "barbell-row"))
CHROMIUM = os.environ.get("POSEREVIEW_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
WRONG = (5, 8, 13)  # left shoulder, right elbow, left knee: 40 px off in the prediction
OFFSET = 40.0


def emit(metric: str, value, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": value, "unit": unit}), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_data():
    """The demo project, an annotator, and three frames with no annotation (two with a prediction)."""
    from django.contrib.auth import get_user_model

    from annotations.datasets.importing import import_coco_file
    from annotations.models import Annotation, Frame, Membership, ModelVersion, Prediction, Project, Role

    User = get_user_model()
    pi = User.objects.create_user("bench-pi", password="bench-pw")
    annotator = User.objects.create_user("bench-annotator", password="bench-pw")
    project = Project.create("demo", "Demo", "coco17_spine", user=pi)
    Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
    import_coco_file(project, DATASET / "annotations" / "correct_n2_3_7_100.json",
                     images_dir=DATASET / "images" / "correct", form_label="correct")
    frames = list(Frame.objects.filter(project=project, annotations__isnull=True).exclude(source_path="")
                  .order_by("id")[:3])
    if len(frames) < 3:
        raise SystemExit("the demo dataset has fewer than 3 frames without an annotation")
    version = ModelVersion.objects.create(project=project, kind="keypoints", number=1, status="ready", is_active=True)
    targets = {}
    for frame in frames:
        # Where the points belong: a stored pose of the same clip, kept inside this frame.
        ann = (Annotation.objects.filter(frame__clip=frame.clip).order_by("frame__frame_index").first()
               or Annotation.objects.filter(project=project).first())
        kp = ann.padded_keypoints(24)[0]
        targets[frame.pk] = [(min(max(kp[3 * i], 30.0), frame.width - 60.0),
                              min(max(kp[3 * i + 1], 30.0), frame.height - 30.0)) for i in range(24)]
    for frame in frames[1:]:
        truth = targets[frame.pk]
        Prediction.objects.create(
            project=project, frame=frame, model_version=version, bbox=[0, 0, frame.width, frame.height],
            keypoints=[[x + (OFFSET if i in WRONG else 0.0), y, 0.9] for i, (x, y) in enumerate(truth)])
    return [f.pk for f in frames], targets


class Counter:
    """Playwright input that counts what a person would do."""

    def __init__(self, page):
        self.page = page
        self.n = 0

    def click(self, x, y):
        self.n += 1
        self.page.mouse.click(x, y)

    def drag(self, x0, y0, x1, y1):
        self.n += 1
        self.page.mouse.move(x0, y0)
        self.page.mouse.down()
        self.page.mouse.move(x1, y1, steps=6)
        self.page.mouse.up()

    def press(self, key):
        self.n += 1
        self.page.keyboard.press(key)


def screen(page, x, y):
    """Screen coordinates of image point (x, y)."""
    return page.evaluate("([x, y]) => { const s = window.poseEditor.stage; const r = s.svg.getBoundingClientRect();"
                         " const [sx, sy] = s.toScreen(x, y); return [r.left + sx, r.top + sy]; }", [x, y])


def open_frame(page, frame_id):
    page.goto(f"/p/demo/frames/{frame_id}/edit/")
    page.wait_for_selector("#editor[data-ready='1']")
    page.wait_for_function("() => document.querySelector('#save-status').dataset.state !== 'loading'")


def wait_submitted(page):
    page.wait_for_function("() => document.querySelector('#notice').textContent.includes('submitted')")


def label_from_scratch(page, frame_id, truth):
    c = Counter(page)
    start = time.perf_counter()
    for _ in range(24):
        i = page.evaluate("() => window.poseEditor.state.selected")
        c.click(*screen(page, *truth[i]))
    c.press("Control+Enter")
    wait_submitted(page)
    return c.n, time.perf_counter() - start


def fix_three(page, frame_id, truth):
    c = Counter(page)
    start = time.perf_counter()
    for i in WRONG:
        x, y = truth[i]
        c.drag(*screen(page, x + OFFSET, y), *screen(page, x, y))
    c.press("Shift+C")
    c.press("Control+Enter")
    wait_submitted(page)
    return c.n, time.perf_counter() - start


def keyboard_loop(page, frame_id, truth):
    c = Counter(page)
    start = time.perf_counter()
    for i in WRONG:
        while page.evaluate("() => window.poseEditor.state.selected") != i:
            c.press("Tab")
        for _ in range(int(OFFSET // 10)):
            c.press("Shift+ArrowLeft")
    c.press("Shift+C")
    c.press("Control+Enter")
    wait_submitted(page)
    return c.n, time.perf_counter() - start


def check(frame_id, truth, tolerance):
    from annotations.models import Annotation

    ann = Annotation.objects.get(frame_id=frame_id)
    kp = ann.keypoints
    assert ann.frame.status == "submitted", ann.frame.status
    assert all(kp[3 * i + 2] > 0 for i in range(24)), "a point is not placed"
    assert all(s == "verified" for s in ann.keypoint_states), ann.keypoint_states
    worst = max(max(abs(kp[3 * i] - x), abs(kp[3 * i + 1] - y)) for i, (x, y) in enumerate(truth))
    assert worst <= tolerance, f"a point is {worst:.1f} px from where it belongs"


def main() -> None:
    if not Path(CHROMIUM).exists() or not DATASET.is_dir():
        print(f"# skipped: needs Chromium ({CHROMIUM}) and the barbell-row dataset ({DATASET})", file=sys.stderr)
        return
    media = tempfile.mkdtemp(prefix="posereview-bench-media-")
    # Playwright's sync API runs an event loop in this thread, where Django then runs its queries.
    django_on_scratch_database(BENCH_DB, DJANGO_ALLOW_ASYNC_UNSAFE="true", MEDIA_ROOT=media)
    frame_ids, targets = setup_data()
    port = free_port()
    env = {**os.environ, "DEBUG": "1", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/accounts/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            context = browser.new_context(base_url=base, viewport={"width": 1440, "height": 900})
            context.set_default_timeout(20_000)
            page = context.new_page()
            page.goto("/accounts/login/")
            page.fill("input[name=username]", "bench-annotator")
            page.fill("input[name=password]", "bench-pw")
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/accounts/login/" not in url)
            loops = [("label_from_scratch", label_from_scratch, 2.0), ("fix_three_points", fix_three, 2.0),
                     ("keyboard_loop", keyboard_loop, 0.05)]
            for (name, run, tolerance), frame_id in zip(loops, frame_ids):
                open_frame(page, frame_id)
                actions, seconds = run(page, frame_id, targets[frame_id])
                check(frame_id, targets[frame_id], tolerance)
                emit(f"actions_{name}", actions, "actions")
                emit(f"seconds_{name}", round(seconds, 2), "s")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
