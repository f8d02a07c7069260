"""The QThreads the workers live on: started with a name (seen in debuggers and crash reports),
stopped only once their current request has finished."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread


def start_thread(worker: QObject, name: str) -> QThread:
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.start()
    return thread


def stop_thread(thread: QThread) -> None:
    """Let the current request finish (callers cancel first), then end the thread; never destroy it
    running."""
    if thread.isRunning():
        thread.quit()
        thread.wait()
