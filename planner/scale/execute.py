"""Running tile tasks: serially, or on Dask (a LocalCluster, threads or a scheduler address)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from planner.errors import InputError
from planner.scale.tiles import Tile

#: How long to wait for a Dask scheduler given by address.
CONNECT_TIMEOUT_S = 10.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process's address space (VmHWM; reset by exec), MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return float("nan")
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ---------------------------------------------------------------------- execution
def dask_client(scheduler: Any, n_workers: int, memory_limit: str | None) -> tuple[Any, Callable[[], None]]:
    """A Dask client for ``scheduler`` and the function that closes what was started for it."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        msg = "running tiles on Dask needs the scale extra: pip install 'planner[scale]'."
        raise ImportError(msg) from exc
    if isinstance(scheduler, Client):
        return scheduler, lambda: None
    if scheduler in ("local", "threads"):
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=scheduler == "local",
            dashboard_address=None, memory_limit=memory_limit or "auto",
            protocol="tcp://", host="127.0.0.1",  # loopback: no outward probe for an address
        )  # fmt: skip
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client, close
    try:
        client = Client(str(scheduler), timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        msg = (
            f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S:g} s ({exc}); check the "
            "address, or use --scheduler local."
        )
        raise InputError(msg) from exc
    return client, client.close


def run_tiles(
    tiles: Sequence[Tile], make_task: Callable[[Tile], dict[str, Any]],
    run: Callable[[Mapping[str, Any]], dict[str, Any]], on_result: Callable[[Tile, dict[str, Any]], None],
    *, scheduler: Any, n_workers: int, memory_limit: str | None, progress: bool, key_prefix: str,
) -> None:  # fmt: skip
    """Run ``run(make_task(tile))`` for every tile and hand each result to ``on_result``.

    With Dask, a bounded number of tasks is in flight, so the driver never holds every
    task's arrays at once.
    """
    bar: Any = None
    if progress and tiles:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tiles), desc="tiles", unit="tile", leave=False, disable=None, delay=1.0)
    try:
        if scheduler in (None, "serial"):
            for tile in tiles:
                on_result(tile, run(make_task(tile)))
                if bar is not None:
                    bar.update()
            return
        from dask.distributed import as_completed

        client, close = dask_client(scheduler, n_workers, memory_limit)
        try:
            window = max(2, 2 * max(1, len(client.scheduler_info().get("workers", {})) or n_workers))
            pending: Iterator[Tile] = iter(tiles)
            owner: dict[str, Tile] = {}
            ac = as_completed()

            def submit_next() -> None:
                tile = next(pending, None)
                if tile is not None:
                    fut = client.submit(run, make_task(tile), key=f"{key_prefix}-{tile.tile_id}", pure=False)
                    owner[fut.key] = tile
                    ac.add(fut)

            for _ in range(window):  # a bounded number of tiles in flight: the driver never
                submit_next()  # holds every task's arrays at once
            for fut in ac:
                tile = owner.pop(fut.key)
                result = fut.result()
                fut.release()
                on_result(tile, result)
                if bar is not None:
                    bar.update()
                submit_next()
        finally:
            close()
    finally:
        if bar is not None:
            bar.close()
