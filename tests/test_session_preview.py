"""Previews, comparisons and estimates in the session, without a window: what the user would see
happen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sr_studio.gui import session as events
from sr_studio.gui.jobs import CompareCell, CompareModel, PreviewResult
from sr_studio.gui.session import RunOptions, Session
from tests.test_session import FakeWorkers, of

OPTIONS = RunOptions(
    model_id="span-x2",
    model_name="SPAN x2",
    model_path=Path("/models/span.safetensors"),
    model_scale=2,
)
HAT = RunOptions(
    model_id="hat-s-x2", model_name="HAT-S x2", model_path=Path("/models/hat.pth"), model_scale=2
)


class PreviewWorkers(FakeWorkers):
    def __init__(self) -> None:
        super().__init__()
        self.previews = []
        self.comparisons = []
        self.estimates = []
        self.preview_cancels = 0

    def preview(self, request):
        self.previews.append(request)

    def compare(self, request):
        self.comparisons.append(request)

    def cancel_preview(self):
        self.preview_cancels += 1

    def estimate(self, request):
        self.estimates.append(request)

    def finish_preview(self, seconds: float = 0.4, estimate: str = "about 2 min") -> None:
        """Two tiles, then the whole crop: the preview's pixels are the photo's doubled, plus 1."""
        request = self.previews.pop(0)
        x, y, w, h = request.box
        crop = np.repeat(np.repeat(request.pixels[y : y + h, x : x + w], 2, 0), 2, 1) + 1
        self.session.preview_tile(request.job_id, request.token, 2 * y, 2 * x, crop[:h])
        self.session.preview_tile(request.job_id, request.token, 2 * y + h, 2 * x, crop[h:])
        self.session.preview_finished(
            PreviewResult(request.job_id, request.token, 2 * y, 2 * x, crop, seconds, estimate)
        )


@pytest.fixture
def loaded(tmp_path):
    from PIL import Image

    workers = PreviewWorkers()
    session = Session(workers, pictures=tmp_path)
    workers.session = session
    seen: list = []
    session.subscribe(seen.append)
    path = tmp_path / "street.png"
    Image.fromarray(
        np.arange(40 * 60 * 3, dtype=np.uint32).reshape(40, 60, 3).astype(np.uint8)
    ).save(path)
    (item,) = session.add_paths([path])
    workers.finish_loads()
    return session, workers, seen, item


def test_a_preview_fills_the_result_pane_tile_by_tile_and_is_marked(loaded):
    session, workers, seen, item = loaded
    session.preview_region(OPTIONS, (10, 5, 20, 12))
    (request,) = workers.previews
    assert request.box == (10, 5, 20, 12) and request.model_path == OPTIONS.model_path
    assert item.preview.model_id == "span-x2" and item.preview.seconds is None  # under way
    assert (item.partial_view.height, item.partial_view.width) == (80, 120)  # the result's size
    workers.finish_preview()
    tiles = of(events.TileDone, seen)
    assert [(t.y0, t.x0, t.pixels.shape[:2]) for t in tiles] == [
        (10, 20, (12, 40)),
        (22, 20, (12, 40)),
        (10, 20, (24, 40)),
    ]
    assert item.preview.seconds == 0.4 and item.preview.estimate == "about 2 min"
    assert (
        not item.has_result and item.status == "pending"
    )  # a preview is not a result: nothing to export
    assert of(events.PreviewEnded, seen)[-1].outcome == "done"
    assert any("the whole photo: about 2 min" in n.text for n in of(events.Notice, seen))
    assert session.previewing is None


def test_a_newer_preview_wins_and_the_older_ones_answers_are_ignored(loaded):
    session, workers, seen, item = loaded
    session.preview_region(OPTIONS, (0, 0, 10, 10))
    session.preview_region(OPTIONS, (30, 20, 10, 10))
    assert workers.preview_cancels == 1
    workers.finish_preview()  # the first one, late
    assert not of(events.TileDone, seen) and session.previewing is item
    workers.finish_preview()
    assert {(t.y0, t.x0) for t in of(events.TileDone, seen)} == {(40, 60), (50, 60)}


def test_a_run_with_the_same_model_keeps_the_preview_until_its_tiles_replace_it(loaded):
    session, workers, seen, item = loaded
    session.preview_region(OPTIONS, (10, 5, 20, 12))
    workers.finish_preview()
    preview_view = item.partial_view
    session.run_current(OPTIONS)
    assert item.partial_view is preview_view and item.preview is None  # no longer called a preview
    workers.finish_run()
    assert item.has_result and item.partial_view is None


def test_a_run_with_another_model_never_shows_the_preview_as_its_own(loaded):
    session, workers, seen, item = loaded
    session.preview_region(OPTIONS, (10, 5, 20, 12))
    workers.finish_preview()
    preview_view = item.partial_view
    session.run_current(HAT)
    assert item.partial_view is not preview_view and item.preview is None


def test_previewing_elsewhere_adds_to_the_preview_but_another_model_starts_afresh(loaded):
    session, workers, seen, item = loaded
    session.preview_region(OPTIONS, (0, 0, 10, 10))
    workers.finish_preview()
    first = item.partial_view
    session.preview_region(OPTIONS, (40, 20, 10, 10))
    assert item.partial_view is first
    workers.finish_preview()
    session.preview_region(HAT, (40, 20, 10, 10))
    assert item.partial_view is not first and item.preview.model_id == "hat-s-x2"


def test_a_run_stops_a_preview_and_a_preview_waits_for_no_run(loaded):
    session, workers, seen, item = loaded
    session.preview_region(OPTIONS, (0, 0, 10, 10))
    session.run_current(OPTIONS)
    assert workers.preview_cancels == 1 and session.previewing is None and len(workers.runs) == 1
    session.preview_region(OPTIONS, (0, 0, 10, 10))
    assert len(workers.previews) == 1  # only the first; the second was refused
    assert "A run is under way" in of(events.Notice, seen)[-1].text
    workers.finish_run()
    session.preview_region(OPTIONS, (0, 0, 10, 10))
    assert "already enlarged" in of(events.Notice, seen)[-1].text


def test_esc_stops_a_preview_and_a_failure_is_one_line(loaded):
    session, workers, seen, item = loaded
    session.preview_region(OPTIONS, (0, 0, 10, 10))
    session.cancel()
    assert workers.preview_cancels == 1
    request = workers.previews.pop()
    session.preview_failed(request.job_id, request.token, "cancelled")
    assert of(events.PreviewEnded, seen)[-1].outcome == "cancelled"
    assert not [n for n in of(events.Notice, seen) if n.kind == "error"]
    session.preview_region(OPTIONS, (0, 0, 10, 10))
    request = workers.previews.pop()
    session.preview_failed(request.job_id, request.token, "out of memory on cpu")
    assert [n.text for n in of(events.Notice, seen) if n.kind == "error"] == [
        "Could not preview street.png: out of memory on cpu"
    ]


def test_without_a_photo_or_a_model_a_preview_says_what_is_missing(tmp_path):
    workers = PreviewWorkers()
    session = Session(workers, pictures=tmp_path)
    seen: list = []
    session.subscribe(seen.append)
    session.preview_region(OPTIONS, (0, 0, 10, 10))
    assert "Add a photo first" in of(events.Notice, seen)[-1].text and not workers.previews


def test_comparing_asks_for_each_model_and_reports_each_cell(loaded):
    session, workers, seen, item = loaded
    models = [
        CompareModel("a", "A", "Photo: …", Path("/a")),
        CompareModel("b", "B", "", Path("/b")),
    ]
    session.compare_models(models[:1], OPTIONS, (0, 0, 8, 8))
    assert "two to 4 models" in of(events.Notice, seen)[-1].text and not workers.comparisons
    session.compare_models(models, OPTIONS, (4, 2, 8, 8))
    (request,) = workers.comparisons
    assert request.box == (4, 2, 8, 8) and request.models == models and request.scale == 2.0
    assert of(events.CompareStarted, seen)[-1].models == tuple(models)
    stale = CompareCell(request.token - 1, 0, models[0], np.zeros((16, 16, 3), np.uint8), 1.0)
    session.compare_cell(stale)
    assert not of(events.CompareCellDone, seen)
    for index, model in enumerate(models):
        session.compare_cell(
            CompareCell(request.token, index, model, np.zeros((16, 16, 3), np.uint8), 0.5)
        )
    session.compare_finished(request.token)
    assert [e.cell.model.id for e in of(events.CompareCellDone, seen)] == ["a", "b"]
    assert of(events.CompareEnded, seen)[-1].outcome == "done" and session.comparing is None


def test_an_estimate_is_asked_for_and_only_the_latest_answer_counts(loaded):
    session, workers, seen, item = loaded
    session.request_estimate(OPTIONS)
    session.request_estimate(HAT)
    first, second = workers.estimates
    assert (second.height, second.width, second.model_path) == (40, 60, HAT.model_path)
    session.estimated(item.id, first.token, "about 1 min")
    assert not of(events.EstimateReady, seen)
    session.estimated(item.id, second.token, "about 3 h 10 min")
    assert [e.text for e in of(events.EstimateReady, seen)] == ["about 3 h 10 min"]
