"""Who is who on the staff side, named once: every staff role, and the managers among them."""

from __future__ import annotations

from storage.models import StaffRole

STAFF_ROLES: tuple[str, ...] = tuple(role.value for role in StaffRole)
MANAGERS: tuple[str, ...] = (StaffRole.supervisor.value, StaffRole.director.value)
