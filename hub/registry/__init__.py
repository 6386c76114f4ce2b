"""The registry: organisations, sites, homes, residents, devices, people and the rota, in the
database rows the alert engine reads at every event, and who may see and act on which alert.

`service` creates, updates and deactivates organisations, sites, homes, residents and devices,
`people` the people and the rota (the API and CLI call both); `importer` takes a file of
registry tables once; `access` holds the rules of who may act; `kinds` lists every kind for
the CLI.
"""

from __future__ import annotations

from hub.registry.access import (
    ACTIONS,
    HUB_HOME,
    ORG_SITE_ID,
    PERMISSIONS,
    STAFF_ROLES,
    allowed_actions,
    can_see,
    may,
    site_of,
)
from hub.registry.importer import ImportReport, home_contacts, import_registry
from hub.registry.people import create_person, deactivate_person, set_rota, update_person
from hub.registry.service import (
    Conflict,
    NotFound,
    RegistryError,
    create_device,
    create_home,
    create_organisation,
    create_resident,
    create_site,
    deactivate_device,
    deactivate_home,
    deactivate_resident,
    deactivate_site,
    new_id,
    update_device,
    update_home,
    update_organisation,
    update_resident,
    update_site,
)

__all__ = [
    "ACTIONS", "HUB_HOME", "ORG_SITE_ID", "PERMISSIONS", "STAFF_ROLES", "Conflict",
    "ImportReport", "NotFound", "RegistryError", "allowed_actions", "can_see", "create_device",
    "create_home", "create_organisation", "create_person", "create_resident", "create_site",
    "deactivate_device", "deactivate_home", "deactivate_person", "deactivate_resident",
    "deactivate_site", "home_contacts", "import_registry", "may", "new_id", "set_rota",
    "site_of", "update_device", "update_home", "update_organisation", "update_person",
    "update_resident", "update_site",
]
