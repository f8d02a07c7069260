"""The workflow without a window: the session driven synchronously, its workers replaced by
fakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sr_studio.errors import ImageReadError
from sr_studio.gui import session as events
from sr_studio.gui.export_plan import ExportOptions
from sr_studio.gui.jobs import LoadedPhoto, RestoredResult, RunResult
from sr_studio.gui.session import RunOptions, Session
from tests.conftest import heavy_imports

OPTIONS = RunOptions(
    model_id="span-x2",
    model_name="SPAN x2",
    model_path=Path("/models/span.safetensors"),
    model_scale=2,
)


class FakeWorkers:
    """Does every job at once when told to (`finish_*`), and keeps the requests it got."""

    can_park = True

    def __init__(self) -> None:
        self.loads: list[tuple[int, str]] = []
        self.runs = []
        self.exports = []
        self.parks = []
        self.discarded = []
        self.cancelled = 0
        self.session: Session | None = None

    def load(self, job_id, path):
        self.loads.append((job_id, path))

    def run(self, request):
        self.runs.append(request)

    def cancel_run(self):
        self.cancelled += 1

    def export(self, request):
        self.exports.append(request)

    def park(self, job_id, token, pixels):
        self.parks.append((job_id, token))

    def restore(self, job_id, token, path):
        pass

    def prepare_view(self, job_id, token, pixels):
        self.session.restored(RestoredResult(job_id, token, pixels, object()))

    def discard(self, path):
        self.discarded.append(path)

    # What the threads would answer ----------------------------------------------------------------
    def finish_loads(self) -> None:
        """Read every photo asked for: real files, decoded; a broken one fails with the reader's
        reason."""
        from sr_studio.photo_io import read_photo

        while self.loads:
            job_id, path = self.loads.pop(0)
            try:
                photo = read_photo(path)
            except ImageReadError as error:
                self.session.photo_failed(job_id, error.reason)
            else:
                self.session.photo_loaded(LoadedPhoto(job_id, photo, _View(photo.pixels)))

    def finish_run(self) -> None:
        request = self.runs.pop(0)
        pixels = np.repeat(np.repeat(request.pixels, 2, axis=0), 2, axis=1)
        self.session.run_progress(request.job_id, 1, 1, 0, 1)
        self.session.run_finished(RunResult(request.job_id, pixels, _View(pixels), 2.0, "cpu", 0.1))

    def finish_exports(self) -> None:
        while self.exports:
            request = self.exports.pop(0)
            if request.destination.exists() and not request.overwrite:
                self.session.export_failed(
                    request.job_id, f"{request.destination.name}: already exists"
                )
                continue
            request.destination.parent.mkdir(parents=True, exist_ok=True)
            request.destination.write_bytes(b"result")
            self.session.exported(request.job_id, str(request.destination), [])


class _View:
    """Stands in for a display pyramid: the session only hands it on."""

    def __init__(self, pixels) -> None:
        self.height, self.width = pixels.shape[:2]


@pytest.fixture
def setup(tmp_path):
    from PIL import Image

    workers = FakeWorkers()
    session = Session(workers, pictures=tmp_path / "Pictures")
    workers.session = session
    seen: list = []
    session.subscribe(seen.append)
    photos = tmp_path / "photos"
    photos.mkdir()

    def photo(name: str, broken: bool = False) -> Path:
        path = photos / name
        if broken:
            path.write_bytes(b"\xff\xd8\xff\xe0 cut short")
        else:
            Image.fromarray(np.full((4, 6, 3), 120, np.uint8)).save(path)
        return path

    def run_to_the_end() -> None:
        """Answer every request until nothing is left to do."""
        while workers.loads or workers.runs:
            workers.finish_loads()
            if workers.runs:
                workers.finish_run()

    return session, workers, seen, photo, run_to_the_end


def of(kind, seen):
    return [event for event in seen if isinstance(event, kind)]


def test_a_photo_that_cannot_be_read_fails_mid_batch_and_the_batch_goes_on(setup):
    session, workers, seen, photo, run_to_the_end = setup
    items = session.add_paths([photo("a.png"), photo("b.jpg", broken=True), photo("c.png")])
    session.run_all(OPTIONS)
    run_to_the_end()
    assert [item.status for item in items] == ["done", "failed", "done"]
    assert items[1].message and "\n" not in items[1].message
    assert of(events.BatchEnded, seen)[-1].outcome == "failed"
    errors = [n for n in of(events.Notice, seen) if n.kind == "error"]
    assert len(errors) == 1 and errors[0].about is items[1] and "b.jpg" in errors[0].text
    assert not session.is_busy()


def test_a_batch_with_several_failures_names_them_all_at_the_end(setup):
    session, workers, seen, photo, run_to_the_end = setup
    items = session.add_paths(
        [photo("a.jpg", broken=True), photo("b.png"), photo("c.jpg", broken=True)]
    )
    session.run_all(OPTIONS)
    run_to_the_end()
    last = [n for n in of(events.Notice, seen) if n.kind == "error"][-1]
    assert last.text.startswith("2 photos failed: a.jpg, c.jpg") and last.about is None
    assert seen.index(last) < seen.index(of(events.BatchEnded, seen)[-1])
    assert [item.status for item in items] == ["failed", "done", "failed"]


def test_cancel_mid_batch_stops_the_run_and_the_photos_after_it(setup):
    session, workers, seen, photo, run_to_the_end = setup
    items = session.add_paths([photo("a.png"), photo("b.png"), photo("c.png")])
    session.run_all(OPTIONS)
    workers.finish_loads()
    workers.finish_run()  # a is done, b is read and runs
    workers.finish_loads()
    assert session.running is items[1]
    session.cancel()
    assert workers.cancelled == 1 and session.is_busy()  # the engine stops at the end of its tile
    session.run_cancelled(items[1].id)
    run_to_the_end()
    assert [item.status for item in items] == ["done", "cancelled", "pending"]
    assert of(events.BatchEnded, seen)[-1].outcome == "cancelled" and not session.is_busy()
    assert workers.runs == []


def test_a_photo_running_cannot_be_removed_and_one_waiting_leaves_the_batch(setup):
    session, workers, seen, photo, run_to_the_end = setup
    items = session.add_paths([photo("a.png"), photo("b.png"), photo("c.png")])
    session.run_all(OPTIONS)
    workers.finish_loads()
    assert session.running is items[0]
    session.remove(items[0])
    assert items[0] in session.queue.items and "cancel the run" in of(events.Notice, seen)[-1].text
    session.remove(items[2])  # waiting in the batch
    run_to_the_end()
    assert [item.status for item in session.queue.items] == ["done", "done"]
    assert [job_id for job_id, _ in workers.parks] == [items[1].id]  # off screen: parked
    assert items[2] not in session.queue.items and items[2].status == "pending"
    assert of(events.ItemsRemoved, seen)[-1].items == (items[2],)


def test_a_late_answer_about_a_removed_photo_is_ignored(setup):
    session, workers, seen, photo, run_to_the_end = setup
    first, second = session.add_paths([photo("a.png"), photo("b.png")])
    session.select(second)  # asks for b to be read
    session.remove(second)
    workers.finish_loads()  # b's answer comes after its removal
    assert second.photo is None and session.queue.items == [first]


def test_re_adding_a_photo_is_a_no_op_and_after_removal_a_fresh_start(setup):
    session, workers, seen, photo, run_to_the_end = setup
    path = photo("a.png")
    (item,) = session.add_paths([path])
    session.run_current(OPTIONS)
    run_to_the_end()
    assert session.add_paths([path]) == [] and session.queue.items == [item]  # already queued
    session.remove(item)
    (again,) = session.add_paths([path])
    assert again is not item and again.status in ("pending", "loading") and not again.has_result
    run_to_the_end()
    assert again.photo is not None


def test_an_export_conflict_asks_once_and_keeps_both_or_cancels(setup, tmp_path):
    session, workers, seen, photo, run_to_the_end = setup
    items = session.add_paths([photo("a.png"), photo("b.png")])
    session.run_all(OPTIONS)
    run_to_the_end()
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_x2_span.png").write_bytes(b"the user's own file")
    options = ExportOptions(folder=str(out))
    asked = []
    assert session.export_all(options, lambda existing: asked.append(existing) or "cancel") == 0
    assert asked == [[out / "a_x2_span.png"]] and workers.exports == []
    assert session.export_all(options, lambda existing: "keep") == 2
    workers.finish_exports()
    assert (out / "a_x2_span.png").read_bytes() == b"the user's own file"
    assert sorted(p.name for p in out.iterdir()) == [
        "a_x2_span (2).png",
        "a_x2_span.png",
        "b_x2_span.png",
    ]
    assert [item.status for item in items] == ["exported", "exported"]
    # Added again, the folder gives back only what this session did not write (here: the user's own
    # file).
    assert [item.name for item in session.add_paths([out])] == ["a_x2_span.png"]


def test_quitting_knows_the_work_not_exported(setup, tmp_path):
    session, workers, seen, photo, run_to_the_end = setup
    items = session.add_paths([photo("a.png"), photo("b.png"), photo("c.png")])
    assert session.unexported() == []  # nothing enlarged: nothing to lose
    session.run_all(OPTIONS)
    run_to_the_end()
    assert session.unexported() == items
    session.export(
        [items[0]], ExportOptions(folder=str(tmp_path / "out")), lambda existing: "replace"
    )
    assert session.unexported() == items  # asked for, not yet written
    workers.finish_exports()
    assert session.unexported() == items[1:]
    session.start_batch([items[0]], OPTIONS)  # enlarged again: the new result is not exported
    run_to_the_end()
    assert session.unexported() == items


def test_a_failed_export_is_reported_and_the_result_stays_unexported(setup, tmp_path):
    session, workers, seen, photo, run_to_the_end = setup
    (item,) = session.add_paths([photo("a.png")])
    session.run_current(OPTIONS)
    run_to_the_end()
    out = tmp_path / "out"
    out.mkdir()
    session.export([item], ExportOptions(folder=str(out)), lambda existing: "replace")
    (out / "a_x2_span.png").write_bytes(b"appeared meanwhile")
    workers.finish_exports()
    assert of(events.ExportFailed, seen) and session.unexported() == [item]
    assert session.pending_exports == {}


def test_photos_pasted_as_pixels_are_enlarged_like_files(setup):
    session, workers, seen, photo, run_to_the_end = setup
    item = session.add_pixels(np.zeros((3, 5, 3), np.uint8), session.pasted_name())
    assert item.name == "Pasted image 1.png" and session.queue.current is item
    assert session.pasted_name() == "Pasted image 2.png"
    session.run_current(OPTIONS)
    run_to_the_end()
    assert item.status == "done" and item.result.shape == (6, 10, 3)


def test_the_session_needs_no_qt():
    assert heavy_imports("import sr_studio.gui.session", {"PySide6", "torch"}) == []


def test_a_finished_run_says_which_precision_ran_and_why(setup):
    session, workers, seen, photo, run_to_the_end = setup
    session.add_paths([photo("a.png")])
    workers.finish_loads()
    session.run_current(OPTIONS)
    assert workers.runs[0].precision == "auto"  # the default the engine resolves
    request = workers.runs.pop(0)
    pixels = np.repeat(np.repeat(request.pixels, 2, axis=0), 2, axis=1)
    session.run_finished(
        RunResult(
            request.job_id,
            pixels,
            _View(pixels),
            2.0,
            "cpu",
            0.1,
            precision="bf16",
            precision_reason="automatic: this CPU computes bfloat16 in hardware",
        )
    )
    item = session.queue.current
    assert item.status == "done" and item.message.endswith("on cpu, bf16")
    status = [n.text for n in of(events.Notice, seen) if n.kind == "status"][-1]
    assert "on cpu, bf16 (automatic: this CPU computes bfloat16 in hardware)" in status


def test_a_cancelled_or_failed_re_run_keeps_the_earlier_result(setup):
    """Re-enlarging a finished photo with another model, then pressing Esc (or the run failing),
    gives the earlier result back: it goes only when a new result replaces it."""
    session, workers, seen, photo, run_to_the_end = setup
    (item,) = session.add_paths([photo("a.png")])
    session.run_current(OPTIONS)
    run_to_the_end()
    earlier = item.result
    assert item.status == "done" and item.result_model == "span-x2"
    other = RunOptions("span-x4", "SPAN x4", Path("/models/x4.safetensors"), 4)
    session.run_current(other)
    assert session.running is item and not item.has_result  # the run's tiles are on screen
    session.cancel()
    session.run_cancelled(item.id)
    assert item.status == "done" and item.result is earlier and item.result_model == "span-x2"
    assert "earlier result (SPAN x2) is kept" in of(events.Notice, seen)[-1].text
    session.run_current(other)
    session.run_failed(item.id, "out of memory")
    assert item.status == "done" and item.result is earlier
    assert "earlier result (SPAN x2) is kept" in of(events.Notice, seen)[-1].text
    session.run_current(other)
    run_to_the_end()  # a new result replaces it
    assert item.result is not earlier and item.result_model == "span-x4"


def test_an_earlier_result_parked_on_disk_comes_back_from_there_and_goes_when_replaced(setup):
    session, workers, seen, photo, run_to_the_end = setup
    a, b = session.add_paths([photo("a.png"), photo("b.png")])
    session.run_all(OPTIONS)
    run_to_the_end()
    session.parked(a.id, a.result_token, "/cache/a.npy")  # a left the screen: parked
    assert a.result_file == Path("/cache/a.npy")
    session.select(a)
    session.run_current(OPTIONS)
    session.run_cancelled(a.id)
    assert a.result_file == Path("/cache/a.npy") and workers.discarded == []
    session.run_current(OPTIONS)
    run_to_the_end()
    assert workers.discarded == [Path("/cache/a.npy")]  # replaced: the old file goes


def test_enlarge_all_and_export_all_say_what_they_did(setup, tmp_path):
    session, workers, seen, photo, run_to_the_end = setup
    items = session.add_paths([photo("a.png"), photo("b.png"), photo("c.png", broken=True)])
    session.run_all(OPTIONS)
    run_to_the_end()
    summary = [n.text for n in of(events.Notice, seen) if n.text.startswith("Enlarged ")]
    assert len(summary) == 1 and summary[0].startswith("Enlarged 2 photos in ")
    assert summary[0].endswith("; 1 failed")
    out = tmp_path / "out"
    options = ExportOptions(folder=str(out))
    assert session.export_all(options, lambda existing: "cancel") == 2
    workers.finish_exports()
    assert of(events.Notice, seen)[-1].text == f"Exported 2 photos to {out}"
    # Exported there already: Export All neither asks about them nor writes them again.
    asked = []
    assert session.export_all(options, lambda existing: asked.append(existing) or "cancel") == 0
    assert asked == [] and workers.exports == []
    assert of(events.Notice, seen)[-1].text == "Nothing new to export: 2 already exported there"
    assert [item.status for item in items[:2]] == ["exported", "exported"]


def test_cancelling_the_export_question_says_nothing_was_written(setup, tmp_path):
    session, workers, seen, photo, run_to_the_end = setup
    session.add_paths([photo("a.png")])
    session.run_all(OPTIONS)
    run_to_the_end()
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_x2_span.png").write_bytes(b"the user's own file")
    assert session.export_all(ExportOptions(folder=str(out)), lambda existing: "cancel") == 0
    assert of(events.Notice, seen)[-1].text == "Export cancelled: nothing was written."


def test_exports_with_any_name_are_not_queued_again_in_a_later_session(setup, tmp_path):
    """A custom pattern's exports ('holiday-big-1.png') do not look like SR Studio results, yet the
    app wrote them: re-adding their folder, even after a restart, queues only the photos."""
    from sr_studio.gui.export_plan import ExportLog

    session, workers, seen, photo, run_to_the_end = setup
    log = tmp_path / "data" / "exports.json"
    first = Session(workers, pictures=tmp_path / "Pictures", exports=ExportLog(log))
    workers.session = first
    first.add_paths([photo("a.png")])
    first.run_all(OPTIONS)
    run_to_the_end()
    out = tmp_path / "out"
    custom = ExportOptions(folder=str(out), pattern="holiday-big-{index}")
    first.export_all(custom, lambda existing: "keep")
    workers.finish_exports()
    (out / "mine.png").write_bytes((tmp_path / "photos" / "a.png").read_bytes())
    later = Session(workers, pictures=tmp_path / "Pictures", exports=ExportLog(log))
    assert [item.name for item in later.add_paths([out])] == ["mine.png"]


def test_an_export_its_format_cannot_hold_is_refused_before_writing(setup, tmp_path):
    from PIL import Image

    session, workers, seen, photo, run_to_the_end = setup
    wide = tmp_path / "photos" / "panorama.png"
    Image.fromarray(np.zeros((4, 8200, 3), np.uint8)).save(wide)  # x2: 16400 px wide
    panorama, small = session.add_paths([wide, photo("a.png")])
    session.run_all(OPTIONS)
    run_to_the_end()
    out = tmp_path / "out"

    queued = session.export_all(ExportOptions(format="webp", folder=str(out)), lambda e: "replace")

    assert queued == 1 and [request.destination.name for request in workers.exports] == [
        "a_x2_span.webp"
    ]
    error = [n for n in of(events.Notice, seen) if n.kind == "error"][-1]
    assert error.text == (
        "Cannot export panorama.png: the x2 result is 16400 × 8 px, larger than WebP allows "
        "(16383 px a side); choose PNG, TIFF or JPEG."
    )
    assert error.about is panorama
    workers.finish_exports()
    assert [panorama.status, small.status] == ["done", "exported"]


def test_a_run_whose_result_many_programs_cannot_open_says_so_and_runs(setup, tmp_path):
    from dataclasses import replace

    from PIL import Image

    session, workers, seen, photo, run_to_the_end = setup
    path = tmp_path / "photos" / "camera.png"
    Image.fromarray(np.zeros((2000, 3000, 3), np.uint8)).save(path)  # 6 MP
    (item,) = session.add_paths([path])
    workers.finish_loads()

    session.run_current(replace(OPTIONS, scale=6.0))

    assert len(workers.runs) == 1  # warned, not refused
    notice = [n for n in of(events.Notice, seen) if n.kind == "info"][-1]
    assert notice.text == (
        "camera.png: the x6 result will be 18000 × 12000 px (216 MP), more than many programs "
        "open (179 MP); Enlarge x4 or less makes one they open."
    )
    session.run_current(OPTIONS)  # x2: 24 MP, nothing to say


def test_an_error_about_one_photo_goes_when_another_is_selected(setup):
    session, workers, seen, photo, run_to_the_end = setup
    good, broken = session.add_paths([photo("a.png"), photo("b.jpg", broken=True)])
    session.select(broken)
    workers.finish_loads()
    error = session.error
    assert error is not None and error.about is broken and "b.jpg" in error.text

    session.select(good)

    assert of(events.ErrorWithdrawn, seen)[-1].notice is error and session.error is None


def test_a_pattern_error_goes_when_the_pattern_is_fixed_and_export_errors_when_one_succeeds(
    setup, tmp_path
):
    session, workers, seen, photo, run_to_the_end = setup
    (item,) = session.add_paths([photo("a.png")])
    session.run_current(OPTIONS)
    run_to_the_end()
    out = tmp_path / "out"
    wrong = ExportOptions(pattern="{nme}", folder=str(out))
    assert session.export_current(wrong, lambda existing: "replace") == 0
    pattern_error = session.error
    assert pattern_error.text.startswith("Cannot export: unknown field {nme}")

    session.export_options_changed(ExportOptions(pattern="{nme"))  # still wrong: it stays
    assert session.error is pattern_error
    session.export_options_changed(ExportOptions(pattern="{name}"))
    assert of(events.ErrorWithdrawn, seen)[-1].notice is pattern_error and session.error is None

    fixed = ExportOptions(pattern="{name}", folder=str(out))
    session.export_current(fixed, lambda existing: "replace")
    out.mkdir()
    (out / "a.png").write_bytes(b"appeared meanwhile")  # the export fails
    workers.finish_exports()
    (out / "a.png").unlink()
    failed = session.error
    assert failed.text.startswith("Export failed") and failed.about is item

    session.export_current(fixed, lambda existing: "replace")
    workers.finish_exports()

    assert of(events.ErrorWithdrawn, seen)[-1].notice is failed and session.error is None
