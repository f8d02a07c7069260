"""The window's cleanup slider: offered for photo models only, runs the blend the CLI runs, and is
kept between sessions."""

from __future__ import annotations

import numpy as np
import pytest
from test_gui_support import (  # noqa: F401 - fixtures
    compare_ticked,
    gradient_photo,
    gui_env,
    make_window,
    queue_photo,
    window,
    write_png,
)

from tests.test_bundled_models import MODELS

RUN_TIMEOUT_MS = 60000


@pytest.fixture
def real_models(gui_env, monkeypatch):
    """The shipped models instead of gui_env's tiny one."""
    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(MODELS))
    return gui_env


def choose(window, model_id):
    combo = window.run_panel.model_combo
    combo.setCurrentIndex(combo.findData(model_id))
    assert window.run_panel.current_model().id == model_id


def row_shown(window) -> bool:
    return window.run_panel.cleanup_slider.isVisibleTo(window)


def enlarge(qtbot, window, item):
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_action.trigger()
    return item.result.copy()


def test_the_slider_is_offered_for_photo_models_and_runs_their_blend(
    qtbot, real_models, make_window
):
    window = make_window()
    window.run_panel.set_precision("fp32")
    choose(window, "bundled-span-x4")
    assert not row_shown(window) and window.run_panel.cleanup() is None
    choose(window, "bundled-span-x4-photo")
    assert row_shown(window)
    assert window.run_options().model_id == "bundled-span-x4-photo"  # 100%: the model as trained
    assert window.run_options().model_name == "SPAN x4 Photo, cleanup 100%"

    photo = write_png(real_models.photos / "harbour.png", gradient_photo(30, 40))
    item = queue_photo(qtbot, window, photo)
    as_trained = enlarge(qtbot, window, item)
    window.run_panel.cleanup_slider.setValue(0)
    options = window.run_options()
    assert options.model_id == "bundled-span-x4-photo@0"
    assert options.model_name == "SPAN x4 Photo, cleanup 0%"
    at_zero = enlarge(qtbot, window, item)
    choose(window, "bundled-span-x4")
    clean = enlarge(qtbot, window, item)
    np.testing.assert_array_equal(at_zero, clean)  # 0% is the clean model it was trained from
    assert np.abs(as_trained.astype(int) - clean).max() > 5


def test_the_slider_moves_in_steps_and_is_kept_between_sessions(qtbot, real_models, make_window):
    window = make_window()
    choose(window, "bundled-span-x4-photo")
    window.run_panel.cleanup_slider.setValue(62)  # a drag lands anywhere: it snaps to 5%
    assert window.run_panel.cleanup_percent() == 60
    assert window.run_panel.cleanup_value.text() == "60%"
    assert window.run_panel.cleanup().strength == pytest.approx(0.6)
    window.close()
    again = make_window()
    assert again.run_panel.current_model().id == "bundled-span-x4-photo"
    assert again.run_panel.cleanup_percent() == 60 and row_shown(again)


def test_compare_offers_the_photo_model_at_the_windows_cleanup_and_use_sets_it(
    qtbot, real_models, make_window
):
    window = make_window()
    window.run_panel.set_precision("fp32")
    choose(window, "bundled-span-x4-photo")
    queue_photo(qtbot, window, write_png(real_models.photos / "dock.png", gradient_photo(40, 48)))
    window.open_comparison()
    dialog = window._comparison
    offered = [dialog.model_list.item(row).text() for row in range(dialog.model_list.count())]
    assert any(text.startswith("SPAN x4 Photo, cleanup 50%  (") for text in offered)
    assert not any(text.startswith("SPAN x4 Clean, cleanup") for text in offered)
    dialog.close()

    window.run_panel.set_cleanup_percent(70)  # reopened, the dialog offers the window's strength
    window.open_comparison()
    assert [m.id for m in dialog.checked_models()] == ["bundled-span-x4-photo@70"]
    compared = ["bundled-span-x4-photo", "bundled-span-x4-photo@70", "bundled-span-x4"]
    cells = compare_ticked(qtbot, window, dialog, compared, RUN_TIMEOUT_MS)
    crops = {key: cell.images.result.levels[0].astype(int) for key, cell in cells.items()}
    assert cells["bundled-span-x4-photo@70"].name_label.text() == "SPAN x4 Photo, cleanup 70%"
    # The blend's crop is its own: between the photo model's and the clean one's.
    blend, photo, clean = (
        crops[k] for k in ("bundled-span-x4-photo@70", "bundled-span-x4-photo", "bundled-span-x4")
    )
    assert 0 < np.abs(blend - photo).mean() < np.abs(clean - photo).mean()

    window.run_panel.set_cleanup_percent(100)
    cells["bundled-span-x4-photo@70"].use_button.click()
    assert window.run_panel.current_model().id == "bundled-span-x4-photo"
    assert window.run_panel.cleanup_percent() == 70


def test_automatic_is_the_default_and_runs_what_it_chose_for_each_photo(
    qtbot, real_models, make_window
):
    from tests.test_automatic_choice import jpeg_bytes, scene

    window = make_window()
    window.run_panel.set_precision("fp32")
    assert window.run_panel.current_model().id == "auto"
    assert window.run_panel.model_combo.currentText() == "Automatic"
    assert not row_shown(window)  # the strength is chosen per photo
    noisy = scene(48, 64).astype(float) + np.random.default_rng(0).normal(0, 6, (48, 64, 3))
    phone = real_models.photos / "phone.jpg"
    phone.write_bytes(jpeg_bytes(np.clip(noisy, 0, 255).astype(np.uint8), 45))
    item = queue_photo(qtbot, window, phone)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_action.trigger()
    automatic = item.result.copy()
    # The result says the model that ran, not "Automatic": export names and titles stay true.
    assert item.result_model.startswith("bundled-span-x4-photo")
    assert "SPAN x4 Photo" in item.result_model_name
    choose(window, "bundled-span-x4-photo")
    percent = item.result_model.partition("@")[2]
    window.run_panel.cleanup_slider.setValue(int(percent) if percent else 100)
    by_hand = enlarge(qtbot, window, item)
    np.testing.assert_array_equal(automatic, by_hand)
    window.close()
    assert make_window().run_panel.current_model().id == "bundled-span-x4-photo"  # kept


def test_moving_the_cleanup_after_a_run_says_the_result_is_from_other_settings(
    qtbot, real_models, make_window
):
    window = make_window()
    window.run_panel.set_precision("fp32")
    choose(window, "bundled-span-x4-photo")
    photo = write_png(real_models.photos / "harbour.png", gradient_photo(30, 40))
    item = queue_photo(qtbot, window, photo)
    enlarge(qtbot, window, item)
    title = window.viewer.result_title.text()
    assert "SPAN x4 Photo, cleanup 100%" in title and "settings changed" not in title
    window.run_panel.cleanup_slider.setValue(60)
    assert "settings changed since: Ctrl+R enlarges again" in window.viewer.result_title.text()
    window.run_panel.cleanup_slider.setValue(100)
    assert "settings changed" not in window.viewer.result_title.text()


def test_the_settings_of_a_run_are_disabled_while_it_runs_whatever_started_it(
    qtbot, real_models, make_window
):
    """Enlarge All on a photo still being read starts the run later, from the session: the slider
    and the other settings must not look usable while it runs."""
    window = make_window()
    window.run_panel.set_precision("fp32")
    choose(window, "bundled-span-x4-photo")
    photo = write_png(real_models.photos / "wide.png", gradient_photo(200, 300))
    window.add_paths([photo])  # not waited for: the run starts once it is read
    window.run_all_action.trigger()
    qtbot.waitUntil(lambda: window.session.running is not None, timeout=RUN_TIMEOUT_MS)
    assert not window.run_panel.cleanup_slider.isEnabled()
    assert not window.run_panel.model_combo.isEnabled()
    with qtbot.waitSignal(window.run_ended, timeout=RUN_TIMEOUT_MS):
        pass
    assert window.run_panel.cleanup_slider.isEnabled()
