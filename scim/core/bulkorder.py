"""The order in which a bulk job's operations run (RFC 7644 §3.7, §3.7.1, §3.7.2), as plain
code: ``Schedule`` hands out one step at a time and is told how each went.

Operations run in the order they were sent, except that a POST whose ``bulkId`` an operation
refers to is pulled ahead of it, wherever it is in the request (§3.7: the provider may reorder
as long as "the same stateful result is achieved"; "before a User can be added to a Group,
they must first be created"). An operation whose data refers to a bulkId needs the resource's
id; one whose path names it (``PATCH /Groups/bulkId:x``) needs the resource complete.

A circle of POSTs referring to each other (§3.7.1: Group A has member Group B, which has member
Group A) has no such order. The first POST on the circle is then created without the
references that cannot be resolved yet (``break``), the others follow with its id, and it is
completed with its whole data (``complete``: a PUT). Should that fail, or a POST it waits for
fail, it is deleted again (``undo``) and answered 409, as §3.7.1 allows "after a failed
attempt".
"""

from __future__ import annotations

from dataclasses import dataclass

from scim.core.bulkrequest import PREFIX, Operation, resolve, without
from scim.core.errors import InvalidValue, ScimError, UnresolvedReference


@dataclass(frozen=True)
class Step:
    """What to do next with ``operation``.

    ``action``: ``run`` (carry it out with ``data`` and the resource id ``target``), ``break``
    (create it with ``data`` lacking some references), ``complete`` (PUT ``data`` on the
    resource ``target`` a break created), ``undo`` (delete ``target``, then answer ``error``)
    or ``fail`` (answer ``error`` without doing anything)."""

    operation: Operation
    action: str
    data: object = None
    target: str | None = None
    error: ScimError | None = None


class Schedule:
    """Hand out the steps of a bulk job: ``next()`` until it returns None, telling
    ``settle(step, id)`` after each how it went (the id created, or None on failure)."""

    def __init__(self, operations: list[Operation]):
        self.operations = operations
        self.defined = {
            op.bulk_id: op.index
            for op in operations
            if op.method == "POST" and op.bulk_id is not None
        }
        self.ids: dict[str, str] = {}  # bulkId -> the id of the resource its POST created
        self.complete: set[str] = set()  # created with all their data
        self.failed: set[str] = set()
        self.done: set[int] = set()
        self.broken: dict[int, frozenset[str]] = {}  # created without these; to complete
        self.cursor = 0

    def _settled(self, bulk_id: str) -> bool:
        return bulk_id in self.ids or bulk_id in self.failed

    # --- handing out steps ------------------------------------------------------------------

    def next(self) -> Step | None:
        """Return the next step, or None when every operation is answered."""
        for index, refs in self.broken.items():
            if all(self._settled(ref) for ref in refs):
                del self.broken[index]
                return self._completion(self.operations[index], refs)
        while self.cursor in self.done:
            self.cursor += 1
        if self.cursor == len(self.operations):
            return None
        # Follow what the next operation waits for, and what that waits for, to a POST that
        # can run, or round a circle.
        chain = [self.operations[self.cursor]]
        while (blocker := self._blocker(chain[-1])) is not None:
            if blocker in chain:
                circle = chain[chain.index(blocker) :]
                return self._break(min(circle, key=lambda op: op.index))
            chain.append(blocker)
        return self._step(chain[-1])

    def _blocker(self, op: Operation) -> Operation | None:
        """The first POST ``op`` waits for, or None when it can run."""
        if op.problem is not None:
            return None
        for ref in sorted(op.refs & self.defined.keys(), key=self.defined.__getitem__):
            if not self._settled(ref):
                return self.operations[self.defined[ref]]
        named = op.path_ref
        if named in self.defined and named not in self.complete and named not in self.failed:
            index = self.defined[named]
            if index not in self.broken:
                return self.operations[index]
            # Created on a circle and not complete yet: what its completion waits for.
            waited = [r for r in self.broken[index] if not self._settled(r)]
            return self.operations[self.defined[min(waited, key=self.defined.__getitem__)]]
        return None

    def _break(self, op: Operation) -> Step:
        pending = {ref for ref in op.refs if ref in self.defined and not self._settled(ref)}
        self.done.add(op.index)
        self.broken[op.index] = frozenset(pending)
        return Step(op, "break", resolve(without(op.data, pending), self.ids))

    def _step(self, op: Operation) -> Step:
        self.done.add(op.index)
        if op.problem is not None:
            return Step(op, "fail", target=_plain(op), error=op.problem)
        refs = op.refs | ({op.path_ref} if op.path_ref is not None else set())
        for ref in sorted(refs):
            if ref not in self.defined:
                unknown = InvalidValue(
                    f"{PREFIX}{ref} is not the bulkId of a POST in this request."
                )
                return Step(op, "fail", target=_plain(op), error=unknown)
            if ref in self.failed:
                return Step(op, "fail", target=_plain(op), error=_failed(ref))
        target = self.ids[op.path_ref] if op.path_ref is not None else op.target
        data = resolve(op.data, self.ids) if op.refs else op.data
        return Step(op, "run", data, target)

    def _completion(self, op: Operation, refs: frozenset[str]) -> Step:
        target = self.ids[_bulk_id(op)]
        lost = sorted(ref for ref in refs if ref in self.failed)
        if lost:
            return Step(op, "undo", target=target, error=_failed(lost[0]))
        return Step(op, "complete", resolve(op.data, self.ids), target)

    # --- learning how a step went -----------------------------------------------------------

    def settle(self, step: Step, created: str | None) -> None:
        """Record how ``step`` went: ``created`` is the id of the resource it created or
        completed (a POST, a break, a completion), None if it failed or created nothing."""
        op, bulk_id = step.operation, step.operation.bulk_id
        if op.method != "POST" or bulk_id is None or self.defined.get(bulk_id) != op.index:
            return
        if created is None:
            self.broken.pop(op.index, None)
            self.ids.pop(bulk_id, None)
            self.failed.add(bulk_id)
            return
        self.ids[bulk_id] = created
        if step.action != "break":
            self.complete.add(bulk_id)

    def abandon(self) -> list[Step]:
        """Undo the resources created without some references whose completion will not
        come now that processing stops (``failOnErrors`` reached): each is deleted and 409."""
        stopped = UnresolvedReference(
            "Processing stopped before the references of this circle were resolved."
        )
        steps = [
            Step(op, "undo", target=self.ids[_bulk_id(op)], error=stopped)
            for op in (self.operations[index] for index in sorted(self.broken))
        ]
        self.broken.clear()
        return steps


def _bulk_id(op: Operation) -> str:
    """The bulkId of a POST that defines one: only those are broken off a circle, completed
    or undone."""
    assert op.bulk_id is not None
    return op.bulk_id


def _plain(op: Operation) -> str | None:
    """The resource id an operation's path names, unless it names a bulkId."""
    return op.target if op.path_ref is None else None


def _failed(bulk_id: str) -> UnresolvedReference:
    return UnresolvedReference(
        f"{PREFIX}{bulk_id} names a resource that was not created: its POST failed."
    )
