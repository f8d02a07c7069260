"""`sr-studio upscale ... --cluster ADDRESS`: one batch spread over the workers of a Ray cluster.

Each worker is a long-lived Ray actor (one per GPU; without GPUs one per node, or one per
`--worker-cpus` CPUs) that builds the model once and enlarges photos with the local CLI's own
`enlarge_photo`, so a photo's output is the same file, byte for byte, whichever machine wrote it.
Photos are read from and written to storage that every node mounts at the same path; nothing but
file names and outcomes crosses the network. The driver (this process) keeps the queue: a photo
whose worker died goes back to it, and an output that exists is done (outputs appear only once
complete), so a restarted batch carries on where the last one stopped. Ray is an optional extra:
it is imported only
here, and only when `--cluster` is given.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sr_studio.errors import OutputExists, SRStudioError

INSTALL_HINT = "pip install 'sr-studio[cluster]'"
# Photos queued on each worker: one being enlarged and one waiting, so a worker never idles between
# photos while the driver hears back, and a dead worker takes at most two photos back to the queue.
PHOTOS_PER_WORKER = 2
# A photo whose worker died this many times is reported as failed rather than tried again: a photo
# that kills every worker it meets (out of memory) must not take the whole cluster down.
MAX_ATTEMPTS = 3
# Without a terminal, one progress line at most this often (seconds).
LOG_PROGRESS_EVERY = 30.0


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the batch on a Ray cluster: 'auto' (this machine is a node of it), "
        "ray://HOST:10001, or the head's HOST:6379; needs " + INSTALL_HINT,
    )
    parser.add_argument(
        "--worker-cpus",
        type=int,
        metavar="N",
        help="with --cluster and no GPU: CPUs per worker (default: one worker per node, "
        "using all its CPUs)",
    )


@dataclass(frozen=True)
class PhotoJob:
    number: int  # 1-based place in the plan, for the [k/N] labels
    source: Path
    destination: Path
    fmt: str


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker needs besides the weights: the options that shape a photo's output."""

    model_source: str
    automatic_pair: Any  # AutomaticPair: the models' names for the lines that say the choice
    cleanup_strength: float | None  # blended with the base weights the workers are also given
    device: str
    precision: str
    tile: int | None
    scale: float
    quality: int | None
    overwrite: bool
    max_megapixels: float


class PhotoWorker:
    """One Ray actor: the model built once, then photos enlarged one after the other."""

    def __init__(
        self,
        state_dict: dict[str, Any],
        settings: WorkerSettings,
        base_state_dict: dict[str, Any] | None = None,
    ) -> None:
        from sr_studio.engine import Upscaler
        from sr_studio.model_loading import blended_model, model_from_state_dict

        self.settings = settings
        self.choice: str | None = None  # what Automatic chose for the photo in hand, and why
        source, strength = settings.model_source, settings.cleanup_strength
        if settings.automatic_pair is not None and base_state_dict is not None:
            from sr_studio.automatic_choice import ModelsByCleanup

            clean = Upscaler(
                model_from_state_dict(base_state_dict, source=source),
                device=settings.device,
                precision=settings.precision,
                tile=settings.tile,
            )

            def build(blend: float) -> Any:
                if blend == 0:
                    return clean
                model = blended_model(state_dict, source, base_state_dict, source, blend)
                return Upscaler(
                    model, device=settings.device, precision=settings.precision, tile=settings.tile
                )

            self.upscaler = clean
            self.automatic: ModelsByCleanup | None = ModelsByCleanup(build)
            return
        self.automatic = None
        if base_state_dict is not None and strength is not None:
            model = blended_model(state_dict, source, base_state_dict, source, strength)
        else:
            model = model_from_state_dict(state_dict, source=source)
        self.upscaler = Upscaler(
            model, device=settings.device, precision=settings.precision, tile=settings.tile
        )

    def upscaler_for(self, photo: Any) -> Any:
        """The batch's upscaler, or Automatic's pick for this photo (its reason kept for the
        outcome)."""
        if self.automatic is None:
            return self.upscaler
        upscaler, choice = self.automatic.for_photo(photo.pixels, photo.jpeg_quality)
        self.choice = f"{photo.path.name}: {self.settings.automatic_pair.said(choice)}"
        return upscaler

    def describe(self, must_see: list[str]) -> dict[str, Any]:
        """Where this worker runs, and which of the batch's folders it cannot see (not shared)."""
        from sr_studio import __version__

        return {
            "node": _node_name(),
            "pid": os.getpid(),
            "device": str(self.upscaler.device),
            "precision": self.upscaler.precision,
            "notice": self.upscaler.notice,
            "version": __version__,
            "unseen": [path for path in must_see if not os.path.isdir(path)],
        }

    def enlarge(self, job: PhotoJob) -> dict[str, Any]:
        """The photo's outcome; a failed photo is an outcome too (the reason), not an exception."""
        from sr_studio.cli.upscale_command import enlarge_photo, output_is_done

        settings = self.settings
        started = time.monotonic()
        outcome: dict[str, Any] = {"node": _node_name(), "pid": os.getpid(), "warnings": []}
        self.choice = None
        if output_is_done(job.destination, settings.overwrite):
            # Written by a worker that died before it could say so, or by another run meanwhile.
            return {**outcome, "status": "skipped"}
        try:
            written, size = enlarge_photo(
                self.upscaler_for,
                job.source,
                job.destination,
                job.fmt,
                settings.scale,
                settings.quality,
                settings.overwrite,
                settings.max_megapixels,
                on_progress=lambda progress: None,
                on_warning=lambda path, text: outcome["warnings"].append(f"{path}: {text}"),
            )
        except OutputExists:  # written meanwhile by another run: done, as a later run finds it
            return {**outcome, "status": "skipped"}
        except SRStudioError as error:
            return {**outcome, "status": "failed", "reason": str(error)}
        return {
            **outcome,
            "choice": self.choice,
            "status": "done",
            "written": str(written),
            "size": size,
            "seconds": time.monotonic() - started,
        }


def _node_name() -> str:
    try:
        import ray

        return str(ray.util.get_node_ip_address())
    except Exception:  # noqa: BLE001 - a label only; the host name does as well
        return socket.gethostname()


@dataclass
class Worker:
    number: int
    handle: Any
    node: str = "?"
    pid: int = 0
    running: list[PhotoJob] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"worker {self.number} ({self.node}, pid {self.pid})"


def run_on_cluster(
    args: argparse.Namespace, files: list[Path], as_file: bool, notes: list[str]
) -> int:
    """`upscale` on a Ray cluster: the same checks, plan, skip rule and exit code as locally."""
    try:
        import ray
    except ModuleNotFoundError:
        where = (
            "which the app bundle leaves out; install SR Studio with pip for it"
            if getattr(sys, "frozen", False)
            else "which is not installed"
        )
        raise SRStudioError(f"--cluster needs Ray, {where}: {INSTALL_HINT}") from None
    if args.worker_cpus is not None and args.worker_cpus < 1:
        raise SRStudioError(f"--worker-cpus must be at least 1, not {args.worker_cpus}")

    from sr_studio.checkpoint import read_state_dict
    from sr_studio.cli.upscale_command import (
        automatic_pair,
        check_result_sizes,
        output_is_done,
        output_words,
        plan_outputs,
        prepare_folder,
        resolve_model_choice,
        run_label,
        scale_label,
    )
    from sr_studio.model_loading import blended_model, model_from_state_dict

    automatic = automatic_pair(args)
    if automatic is not None:
        model_path, cleanup = automatic.photo_path, None
    else:
        model_path, cleanup = resolve_model_choice(args)
    state_dict = read_state_dict(model_path)
    base_state_dict = None
    # Weights that do not fit (or do not blend) are refused here, once, not by every worker.
    if automatic is not None:
        base_state_dict = read_state_dict(automatic.clean_path)
        model = blended_model(state_dict, model_path, base_state_dict, automatic.clean_path, 0.5)
    elif cleanup is None:
        model = model_from_state_dict(state_dict, source=model_path)
    else:
        base_state_dict = read_state_dict(cleanup.base)
        model = blended_model(
            state_dict, model_path, base_state_dict, cleanup.base, cleanup.strength
        )
    scale = args.scale if args.scale is not None else float(model.descriptor.scale)
    words = output_words(automatic, model_path, cleanup)
    plan = plan_outputs(
        [path.resolve() for path in files], args.output, args.format, scale, as_file, words
    )
    if args.output:
        output = Path(args.output).expanduser()
        prepare_folder(output.parent if as_file else output)
    report = Report(len(plan), quiet=args.quiet)
    for note in notes:
        report.line(f"sr-studio: note: {note}", always=False)

    # As locally: a result its format cannot hold fails now, not on a worker after its run.
    refused, size_notes = check_result_sizes(plan, scale, args.overwrite, args.max_megapixels)
    for note in size_notes:
        report.line(f"sr-studio: note: {note}")
    jobs = []
    for number, (source, destination, fmt) in enumerate(plan, start=1):
        if output_is_done(destination, args.overwrite):
            report.skipped(number, source, destination)
        elif source in refused:
            report.refused(refused[source])
        else:
            jobs.append(PhotoJob(number, source, destination.resolve(), fmt))
    if not jobs:
        return report.summary()

    _connect(ray, args.cluster)
    settings = WorkerSettings(
        str(model_path),
        automatic,
        cleanup.strength if cleanup is not None else None,
        args.device,
        args.precision,
        args.tile,
        scale,
        args.quality,
        args.overwrite,
        args.max_megapixels,
    )
    weights = (ray.put(state_dict), ray.put(base_state_dict) if base_state_dict else None)
    workers = _start_workers(ray, weights, settings, args.device, args.worker_cpus)
    must_see = sorted(
        {str(job.source.parent) for job in jobs} | {str(job.destination.parent) for job in jobs}
    )
    report.line(
        f"model: {run_label(automatic, model_path, cleanup, model)}; "
        f"{len(plan)} image(s) to {scale_label(scale)} "
        f"on {len(workers)} worker(s) of the cluster at {args.cluster}",
        always=False,
    )
    del model, state_dict, base_state_dict
    try:
        _Dispatcher(ray, workers, jobs, report, must_see).run()
    finally:
        # Workers end with the batch (and with this process), also when this driver stays connected.
        for worker in workers:
            ray.kill(worker.handle)
    return report.summary()


def _connect(ray: Any, address: str) -> None:
    """Join the cluster as its driver; a connection this process already has (a notebook, a test)
    is kept."""
    if ray.is_initialized():
        return
    import logging

    _check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SRStudioError(f"cannot join the Ray cluster at {address}: {reason}") from None


def _check_reachable(address: str) -> None:
    """A head that is down or misnamed is reported in seconds: Ray itself retries for minutes."""
    if address == "auto":
        return  # Ray looks for a cluster on this machine and says at once when there is none
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise SRStudioError(f"--cluster: {address!r} is not auto, ray://HOST:PORT or HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as error:
        raise SRStudioError(
            f"cannot join the Ray cluster at {address}: nothing answers there "
            f"({error.strerror or error}); is the head started (ray start --head)?"
        ) from None


def _start_workers(
    ray: Any,
    weights: tuple[Any, Any],
    settings: WorkerSettings,
    device: str,
    worker_cpus: int | None,
) -> list[Worker]:
    """One actor per GPU when the run may use GPUs and the cluster has some; else CPU workers."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actor = ray.remote(PhotoWorker)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if device in ("auto", "cuda") and gpus > 0:
        # Ray hides the other GPUs from each actor (CUDA_VISIBLE_DEVICES): "auto" means its own.
        return [
            Worker(
                number,
                actor.options(num_gpus=1, num_cpus=1, max_restarts=0).remote(
                    weights[0], settings, weights[1]
                ),
            )
            for number in range(1, gpus + 1)
        ]
    if device == "cuda":
        raise SRStudioError("--device cuda: the Ray cluster has no GPU")
    handles = []
    for node in ray.nodes():
        cpus = int(node.get("Resources", {}).get("CPU", 0)) if node.get("Alive") else 0
        per_worker = min(worker_cpus or cpus, cpus)
        for _ in range(cpus // per_worker if per_worker else 0):
            # Ray sets OMP_NUM_THREADS to num_cpus: each worker's PyTorch uses its share of cores.
            strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            handles.append(
                actor.options(
                    num_cpus=per_worker, max_restarts=0, scheduling_strategy=strategy
                ).remote(weights[0], settings, weights[1])
            )
    if not handles:
        raise SRStudioError("the Ray cluster has no CPU to run a worker on")
    return [Worker(number, handle) for number, handle in enumerate(handles, start=1)]


class _Dispatcher:
    """Keeps every ready worker busy with PHOTOS_PER_WORKER photos until the queue is empty."""

    def __init__(
        self,
        ray: Any,
        workers: list[Worker],
        jobs: list[PhotoJob],
        report: Report,
        must_see: list[str],
    ) -> None:
        self.ray = ray
        self.queue: collections.deque[PhotoJob] = collections.deque(jobs)
        self.report = report
        self.attempts: collections.Counter[int] = collections.Counter()
        self.starting = {worker.handle.describe.remote(must_see): worker for worker in workers}
        self.running: dict[Any, tuple[Worker, PhotoJob]] = {}
        self.live: list[Worker] = []
        self.ever_ready = False

    def run(self) -> None:
        while self.queue or self.running:
            self._hand_out()
            if not self.running and not self.starting:
                self._no_worker_left()
                return
            waiting = [*self.running, *self.starting]
            finished, _ = self.ray.wait(waiting, num_returns=1, timeout=1.0)
            self.report.tick()
            for ref in finished:
                if ref in self.starting:
                    self._started(ref, self.starting.pop(ref))
                else:
                    self._finished(ref, *self.running.pop(ref))

    def _no_worker_left(self) -> None:
        """One line for the photos left, not one per photo: there may be thousands."""
        if not self.ever_ready:
            raise SRStudioError("no worker of the cluster could start (see the notes above)")
        self.report.line(
            f"sr-studio: error: every worker died; {len(self.queue)} photo(s) not enlarged: "
            "run the same command again to carry on where it stopped"
        )
        self.report.failures += len(self.queue)
        self.queue.clear()

    def _hand_out(self) -> None:
        for worker in self.live:
            while self.queue and len(worker.running) < PHOTOS_PER_WORKER:
                job = self.queue.popleft()
                worker.running.append(job)
                self.running[worker.handle.enlarge.remote(job)] = (worker, job)

    def _started(self, ref: Any, worker: Worker) -> None:
        from sr_studio import __version__

        try:
            facts = self.ray.get(ref)
        except Exception as error:  # noqa: BLE001 - any failure to start only loses this worker
            self.report.line(
                f"sr-studio: note: worker {worker.number} did not start: {_reason(error)}"
            )
            return
        worker.node, worker.pid = facts["node"], facts["pid"]
        if facts["unseen"]:
            self.report.line(
                f"sr-studio: note: {worker.label} cannot see {facts['unseen'][0]}: inputs and "
                "outputs must be on storage every node mounts at the same path; not used"
            )
            self.ray.kill(worker.handle)
            return
        if facts["version"] != __version__:
            self.report.line(
                f"sr-studio: note: {worker.label} has sr-studio {facts['version']}, this "
                f"machine {__version__}: install the same version on every node; not used"
            )
            self.ray.kill(worker.handle)
            return
        if facts["notice"]:
            self.report.notice(facts["notice"])
        self.live.append(worker)
        self.ever_ready = True
        self.report.working()
        self.report.line(
            f"{worker.label} ready: {facts['device']}, {facts['precision']}", always=False
        )

    def _finished(self, ref: Any, worker: Worker, job: PhotoJob) -> None:
        worker.running.remove(job)
        try:
            outcome = self.ray.get(ref)
        except self.ray.exceptions.RayActorError:
            self._worker_died(worker, job)
            return
        except self.ray.exceptions.RayTaskError as error:  # a bug or an unexpected library error
            self.report.failed(job, _reason(error))
            return
        for warning in outcome["warnings"]:
            self.report.line(f"sr-studio: warning: {warning}")
        if outcome["status"] == "done":
            if outcome.get("choice"):
                self.report.line(outcome["choice"], always=False)
            self.report.done(job, outcome)
        elif outcome["status"] == "skipped":
            self.report.skipped(job.number, job.source, job.destination)
        else:
            self.report.failed(job, outcome["reason"])

    def _worker_died(self, worker: Worker, job: PhotoJob) -> None:
        if worker in self.live:
            self.live.remove(worker)
            # Ray's own account of the death is a paragraph; its logs on the node have the details.
            self.report.line(
                f"sr-studio: note: {worker.label} died (killed, out of memory or crashed); "
                f"its photos go to the other workers ({len(self.live)} left)"
            )
        _remove_partial_output(job.destination)
        self.attempts[job.number] += 1
        if self.attempts[job.number] >= MAX_ATTEMPTS:
            self.report.failed(
                job, f"its worker died {MAX_ATTEMPTS} times while enlarging it (out of memory?)"
            )
            return
        self.report.line(
            f"sr-studio: note: {job.source.name} is tried again on another worker", always=False
        )
        self.queue.appendleft(job)


def _remove_partial_output(destination: Path) -> None:
    """A worker killed while writing leaves its hidden temporary file (`.NAME.*.part`, see
    photo_io.atomic_file) beside the output; removed before the photo is tried again."""
    for leftover in destination.parent.glob(f".{glob.escape(destination.name)}.*.part"):
        try:
            leftover.unlink()
        except OSError:
            pass  # hidden and never taken for an output; not worth failing the batch over


def _reason(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}".rstrip(": ")


class Report:
    """The terminal's view of the batch: a line per photo, and photos done per node with an ETA."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.quiet = quiet
        self.stream = sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = self.working_since = time.monotonic()
        self.enlarged = self.skipped_count = self.failures = 0
        self.per_node: collections.Counter[str] = collections.Counter()
        self.notices: set[str] = set()
        self.last_logged = self.started
        self.status_shown = False

    def line(self, text: str, always: bool = True) -> None:
        """A line of its own; `always` lines (warnings, errors, notes) show with --quiet too."""
        if self.quiet and not always:
            return
        self._clear_status()
        print(text, file=self.stream, flush=True)
        self._draw_status()

    def notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.add(text)
            self.line(f"sr-studio: note: {text}")

    def skipped(self, number: int, source: Path, destination: Path) -> None:
        self.skipped_count += 1
        self.line(
            f"[{number}/{self.total}] {source.name} skipped: {destination} already exists "
            "(--overwrite replaces it)",
            always=False,
        )

    def done(self, job: PhotoJob, outcome: dict[str, Any]) -> None:
        self.enlarged += 1
        self.per_node[outcome["node"]] += 1
        width, height = outcome["size"]
        self.line(
            f"[{job.number}/{self.total}] {job.source.name} -> {outcome['written']} "
            f"({width}x{height}, "
            f"{outcome['seconds']:.1f} s, {outcome['node']} pid {outcome['pid']})",
            always=False,
        )

    def refused(self, reason: str) -> None:
        """A photo failed before any worker had it (its result too large for its format)."""
        self.failures += 1
        self.line(f"sr-studio: error: {reason}")

    def failed(self, job: PhotoJob, reason: str) -> None:
        self.failures += 1
        text = reason if str(job.source) in reason else f"{job.source}: {reason}"
        self.line(f"sr-studio: error: {text}")

    def status(self) -> str:
        """Photos finished of the batch, per node, and the time left at the pace so far."""
        finished = self.enlarged + self.skipped_count + self.failures
        elapsed = time.monotonic() - self.working_since
        nodes = ", ".join(f"{node}: {count}" for node, count in sorted(self.per_node.items()))
        text = f"{finished}/{self.total} photos ({nodes or 'none enlarged yet'})"
        left = self.total - finished
        if self.enlarged and left:
            from sr_studio.durations import format_duration

            text += f", ETA {format_duration(elapsed / self.enlarged * left)}"
        return text

    def working(self) -> None:
        """The first worker is ready: the pace (and so the ETA) is counted from here, not from the
        cluster's start-up."""
        if self.working_since == self.started:
            self.working_since = time.monotonic()

    def tick(self) -> None:
        if self.quiet:
            return
        if self.interactive:
            self._draw_status()
        elif time.monotonic() - self.last_logged >= LOG_PROGRESS_EVERY:
            self.last_logged = time.monotonic()
            print(f"progress: {self.status()}", file=self.stream, flush=True)

    def _draw_status(self) -> None:
        if self.interactive and not self.quiet:
            self.stream.write(f"\r\x1b[2K{self.status()}")
            self.stream.flush()
            self.status_shown = True

    def _clear_status(self) -> None:
        if self.status_shown:
            self.stream.write("\r\x1b[2K")
            self.status_shown = False

    def summary(self) -> int:
        """The local CLI's closing lines and exit code, after the per-node totals."""
        self._clear_status()
        self.interactive = False
        if not self.quiet and self.enlarged:
            print(
                f"done: {self.status()} in {time.monotonic() - self.started:.1f} s",
                file=self.stream,
            )
        if self.skipped_count:
            print(
                f"sr-studio: {self.skipped_count} of {self.total} image(s) skipped: "
                "the output already "
                "exists (--overwrite replaces it)",
                file=self.stream,
            )
        if self.failures:
            print(f"sr-studio: {self.failures} of {self.total} image(s) failed", file=self.stream)
            return 1
        return 0
