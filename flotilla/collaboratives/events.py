"""What happens to a collaborative that apps above this one react to.

Sharing opens an organisation's data to a collaborative when it joins and ends those grants
when it leaves, but this app sits below sharing and must not import it (ADR 0013). So the
joining and leaving actions send these signals inside their own transaction, and sharing
connects its receivers when it starts (`flotilla.sharing.apps`). Receivers run in the same
transaction: if one fails, the join or leave is rolled back with it, so there is never a
member without its grants or a former member whose grants outlive it.

Both are sent with `sender=CollaborativeMembership` and the keyword arguments `by` (the
actor) and `membership`.
"""

from django.dispatch import Signal

#: An organisation has just become an active member (founding, or accepting an invitation).
member_joined = Signal()

#: An organisation is leaving; `membership.left_at` is already set.
member_left = Signal()
