"""One sync per connector at a time, across every process and replica sharing the record store.

A lease is a record created atomically (``RecordStore.create``) with an expiry. The holder renews it while
it works; a lease whose holder stopped renewing (the process died) expires and may be taken over. Taking
over is itself an atomic create keyed by the expired lease's token, so of two replicas that both see the
same expired lease exactly one wins it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from pipelines.stores.records import RecordStore

LEASES = "connector-leases"
TAKEOVERS = "connector-lease-takeovers"
#: A sync renews its lease at least this often; a lease not renewed for ``LEASE_SECONDS`` has expired.
LEASE_SECONDS = 300.0
RENEW_SECONDS = 30.0


@dataclass(frozen=True)
class Lease:
    connector: str
    holder: str
    token: str
    expires: float


class LeaseHeld(Exception):
    """Another process holds the connector's sync lease (``holder``) until ``expires``."""

    def __init__(self, connector: str, holder: str, expires: float) -> None:
        super().__init__(f"a sync of {connector!r} is already running ({holder})")
        self.connector = connector
        self.holder = holder
        self.expires = expires


class SyncLeases:
    """Acquire, renew and release per-connector sync leases."""

    def __init__(self, records: RecordStore, seconds: float = LEASE_SECONDS) -> None:
        self.records = records
        self.seconds = seconds

    def _body(self, connector: str, holder: str) -> Lease:
        return Lease(connector, holder, uuid.uuid4().hex, time.time() + self.seconds)

    def _fields(self, lease: Lease) -> dict[str, str | float]:
        return {"holder": lease.holder, "token": lease.token, "expires": lease.expires}

    def current(self, connector: str) -> Lease | None:
        """The lease on ``connector`` if one is held and not expired."""
        record = self.records.get(LEASES, connector)
        if record is None or float(record.fields.get("expires") or 0) <= time.time():
            return None
        return Lease(
            connector,
            str(record.fields["holder"]),
            str(record.fields["token"]),
            float(record.fields["expires"]),
        )

    def acquire(self, connector: str, holder: str) -> Lease:
        """The lease for ``holder``. :raises LeaseHeld: another holder's lease has not expired."""
        lease = self._body(connector, holder)
        if self.records.create(LEASES, connector, self._fields(lease)):
            return lease
        record = self.records.get(LEASES, connector)
        if record is None:  # released between our create and get: try once more
            if self.records.create(LEASES, connector, self._fields(lease)):
                return lease
            record = self.records.get(LEASES, connector)
        if record is None:
            raise LeaseHeld(connector, "another process", time.time() + self.seconds)
        expires = float(record.fields.get("expires") or 0)
        if expires > time.time():
            raise LeaseHeld(connector, str(record.fields.get("holder")), expires)
        # Expired: whoever creates the takeover record for this token owns the next lease.
        if not self.records.create(
            TAKEOVERS, f"{connector}:{record.fields.get('token')}", {"holder": holder}
        ):
            raise LeaseHeld(
                connector, "another process taking over an expired sync", time.time() + self.seconds
            )
        self.records.put(LEASES, connector, self._fields(lease))
        self.records.purge(TAKEOVERS, time.time() - 7 * 86400)
        return lease

    def renew(self, lease: Lease) -> Lease:
        """Extend the lease; :raises LeaseHeld: it was lost (expired and taken over)."""
        record = self.records.get(LEASES, lease.connector)
        if record is None or record.fields.get("token") != lease.token:
            holder = str(record.fields.get("holder")) if record else "nobody"
            raise LeaseHeld(lease.connector, holder, time.time())
        renewed = Lease(lease.connector, lease.holder, lease.token, time.time() + self.seconds)
        self.records.put(LEASES, lease.connector, self._fields(renewed))
        return renewed

    def release(self, lease: Lease) -> None:
        record = self.records.get(LEASES, lease.connector)
        if record is not None and record.fields.get("token") == lease.token:
            self.records.delete(LEASES, lease.connector)
