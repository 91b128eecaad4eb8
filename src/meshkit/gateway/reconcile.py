"""Making the mesh hold exactly a config's services and instances — all of it or none.

A reload is worked out before anything changes (:func:`plan`): every service and instance
record is built and checked, and the difference from what the mesh holds is listed as
steps. Only then are the steps made (:func:`apply`), each recording how to undo it; if one
fails (a store that refuses a write, say), the steps made so far are undone in reverse and
the error raised, so the mesh is left holding the old config whole — never half of each.
Instances that did not change are not touched, so their health and statistics carry over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from meshkit.errors import ConfigError, InvalidRegistration
from meshkit.gateway.config import ServiceConfig
from meshkit.mesh import ServiceMesh
from meshkit.registry.models import Instance, Service, parse_instance, parse_service

__all__ = ["CatalogPlan", "apply", "plan"]

Step = Callable[[], Awaitable[object]]


@dataclass(slots=True)
class CatalogPlan:
    """The steps from the mesh's catalog to a config's services, in the order to make them."""

    removed_services: list[str] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)  # new, or with another policy
    removed_instances: list[str] = field(default_factory=list)  # gone, or about to change
    instances: list[Instance] = field(default_factory=list)  # new, or changed

    @property
    def empty(self) -> bool:
        return not (
            self.removed_services or self.services or self.removed_instances or self.instances
        )


def plan(mesh: ServiceMesh, services: Iterable[ServiceConfig]) -> CatalogPlan:
    """What must change for the mesh to hold exactly ``services`` (``ConfigError`` if a
    record is invalid: then nothing has changed)."""
    catalog = mesh.catalog
    steps = CatalogPlan()
    wanted = list(services)
    names = {s.name for s in wanted}
    steps.removed_services = [s.name for s in catalog.services() if s.name not in names]
    try:
        for spec in wanted:
            record = parse_service({"name": spec.name, "policy": spec.policy})
            known = catalog.service(spec.name) if catalog.has_service(spec.name) else None
            if known != record:
                steps.services.append(record)
            current = (
                {s.instance.id: s.instance for s in catalog.instances(spec.name)}
                if known is not None
                else {}
            )
            keep = set()
            for instance in spec.instances:
                new = parse_instance({**instance.model_dump(), "service": spec.name})
                keep.add(new.id)
                old = current.get(new.id)
                if old != new:
                    if old is not None:
                        steps.removed_instances.append(new.id)
                    steps.instances.append(new)
            steps.removed_instances += [i for i in current if i not in keep]
    except InvalidRegistration as exc:
        raise ConfigError(str(exc), option="services") from None
    return steps


async def apply(mesh: ServiceMesh, steps: CatalogPlan) -> None:
    """Make the planned changes, or — if one fails — none (the error is raised)."""
    catalog = mesh.catalog
    undo: list[Step] = []
    try:
        for name in steps.removed_services:
            service = catalog.service(name)
            members = [s.instance for s in catalog.instances(name)]
            await mesh.deregister_service(name)
            undo.append(_restore_service(mesh, service, members))
        for record in steps.services:
            old = catalog.service(record.name) if catalog.has_service(record.name) else None
            await mesh.register_service(record)
            undo.append(_put_service_back(mesh, record.name, old))
        for instance_id in steps.removed_instances:
            old_instance = catalog.instance(instance_id).instance
            await mesh.deregister(instance_id)
            undo.append(partial(mesh.register, old_instance))
        for instance in steps.instances:
            await mesh.register(instance)
            undo.append(partial(mesh.deregister, instance.id))
    except BaseException:
        for step in reversed(undo):
            await step()
        raise


def _restore_service(mesh: ServiceMesh, service: Service, members: list[Instance]) -> Step:
    async def step() -> None:
        await mesh.register_service(service)
        for instance in members:
            await mesh.register(instance)

    return step


def _put_service_back(mesh: ServiceMesh, name: str, old: Service | None) -> Step:
    async def step() -> None:
        if old is None:
            await mesh.deregister_service(name)
        else:
            await mesh.register_service(old)

    return step
