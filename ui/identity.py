"""Who is using the app: the signed-in user as a `Reader` (name, groups, role), from the configured identity mode.

- oidc: Streamlit's `st.login` against the authority's provider; groups from a claim (`identity.groups_claim`) or,
  when the provider sends none, from the access policy's [users] table.
- proxy: a reverse proxy that authenticates sends the user and groups in headers, trusted only when the connection
  comes from one of `identity.trusted_proxies`.
- local: accounts kept by Sourcier (`sourcier users add`), name and password.
- demo: no identity; everyone is the demo administrator, on loopback only, and every page says so.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import streamlit as st

from sourcier.access import AccessPolicy, Reader, Role, groups_claim, name_claim
from sourcier.accounts import Accounts
from sourcier.audit import AuditKind, AuditLog
from sourcier.errors import SignInError
from sourcier.settings import IdentityMode
from ui.common import settings

_SIGNED_IN = "sourcier_signed_in"  # session key: the local account's reader, or the name already audited
DEMO_READER = Reader(name="démonstration", role=Role.ADMIN, demo=True)


@st.cache_resource(ttl=60)
def policy() -> AccessPolicy:
    """Re-read every minute: a policy change reaches signed-in users without a restart."""
    return AccessPolicy.load(settings().access.policy)


@st.cache_resource
def audit_log() -> AuditLog:
    return AuditLog.for_settings(settings())


def is_loopback(address: str) -> bool:
    """An empty address is not loopback: for a server it means every interface."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def is_trusted_proxy(peer: str, trusted: tuple[str, ...]) -> bool:
    """Whether the connection comes from one of the proxies allowed to say who the user is: addresses or networks
    (« 10.0.0.10 », « 10.0.0.0/29 »), compared as addresses (« ::ffff:10.0.0.10 » is 10.0.0.10)."""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for entry in trusted:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a name is not an address: never trusted (the settings say so at load, see below)
    return False


# Headers a proxy adds for the client it forwards: present, the visitor is someone else than the proxy's host.
_FORWARDING_HEADERS = {"x-forwarded-for", "x-forwarded-host", "x-real-ip", "forwarded", "via"}


def visitor_is_on_this_machine() -> bool:
    """Whether this connection comes from a browser on the server itself — decided per connection, not from the
    bind address: `streamlit run` listens on every interface, and a reverse proxy on the same host connects from
    loopback on behalf of anyone."""
    if isinstance(st.context.ip_address, str):  # Streamlit reports a loopback peer as None (AppTest: no peer)
        return False
    headers = st.context.headers
    if {name.lower() for name in headers} & _FORWARDING_HEADERS:
        return False
    # The page's origin as the browser saw it: a plain proxy may rewrite Host, it passes Origin on.
    origin = urlsplit(headers.get("Origin") or "").hostname or ""
    host = urlsplit(f"//{headers.get('Host') or ''}").hostname or ""
    # Neither header: a loopback peer that is not a browser (Streamlit's AppTest).
    return all(not name or is_loopback(name) for name in (origin, host))


def current_reader() -> Reader | None:
    """The signed-in user, or None (then the page shows `sign_in()` and stops)."""
    mode = settings().identity.mode
    if mode is IdentityMode.DEMO:
        return DEMO_READER
    if mode is IdentityMode.LOCAL:
        reader = st.session_state.get(_SIGNED_IN)
        if isinstance(reader, Reader):  # groups are read again from the policy: a change applies at once
            account = Accounts.of(settings().store).get(reader.name)
            return policy().reader(account.name, account.groups) if account else None
        return None
    if mode is IdentityMode.OIDC:
        return _from_oidc()
    return _from_proxy()


def _from_oidc() -> Reader | None:
    if not st.user.is_logged_in:
        return None
    claims = st.user.to_dict()
    identity = settings().identity
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or time.time() - issued > identity.max_session_minutes * 60:
        # Streamlit keeps the sign-in's claims for 30 days: the groups are read again from the provider instead.
        st.session_state.pop(_SIGNED_IN, None)
        st.logout()
        return None
    name = name_claim(claims, identity.name_claims)
    if name is None:
        return None
    reader = policy().reader(name, groups_claim(claims.get(identity.groups_claim)))
    _audit_sign_in(reader)
    return reader


def _from_proxy() -> Reader | None:
    identity = settings().identity
    # Streamlit reports a loopback peer as None.
    peer = st.context.ip_address or "127.0.0.1"
    if not is_trusted_proxy(peer, identity.trusted_proxies):
        return None
    headers = st.context.headers
    name = (headers.get(identity.user_header) or "").strip()
    if not name:
        return None
    reader = policy().reader(name, groups_claim(headers.get(identity.groups_header)))
    _audit_sign_in(reader)
    return reader


def _audit_sign_in(reader: Reader) -> None:
    if st.session_state.get(_SIGNED_IN) != reader.name:
        st.session_state[_SIGNED_IN] = reader.name
        audit_log().record(AuditKind.SIGN_IN, reader, mode=settings().identity.mode.value)


def sign_in() -> None:
    """What a visitor who is not signed in sees."""
    mode = settings().identity.mode
    st.title("Sourcier")
    if mode is IdentityMode.OIDC:
        st.write("Connectez-vous avec le compte de votre collectivité pour poser vos questions.")
        if st.button("Se connecter", type="primary", icon=":material/login:"):
            st.login()
    elif mode is IdentityMode.LOCAL:
        with st.form("sign-in"):
            name = st.text_input("Nom d'utilisateur")
            password = st.text_input("Mot de passe", type="password")
            submitted = st.form_submit_button("Se connecter", type="primary")
        if submitted:
            try:
                account = Accounts.of(settings().store).verify(name, password)
            except SignInError as error:
                audit_log().record(AuditKind.SIGN_IN_FAILED, name.strip()[:100] or "?", mode="local")
                st.error(str(error))
            else:
                reader = policy().reader(account.name, account.groups)
                st.session_state[_SIGNED_IN] = reader
                audit_log().record(AuditKind.SIGN_IN, reader, mode="local")
                st.rerun()
    else:
        st.error(
            "Accès refusé : votre identité n'a pas été transmise par le portail de connexion de la collectivité. "
            "Passez par l'adresse habituelle, ou contactez l'administrateur."
        )


def sign_out(reader: Reader) -> None:
    audit_log().record(AuditKind.SIGN_OUT, reader)
    st.session_state.pop(_SIGNED_IN, None)
    if settings().identity.mode is IdentityMode.OIDC:
        st.logout()
    else:
        st.rerun()


def require(what: str, allowed: Callable[[Reader], bool] = lambda reader: True) -> Reader:
    """The signed-in reader, if `allowed`; otherwise the page stops (checked on every page, not only by leaving
    it out of the menu)."""
    reader = current_reader()
    if reader is None or not allowed(reader):
        if reader is not None:
            audit_log().record(AuditKind.DENIED, reader, page=what)
        st.error(f"Accès refusé : la page « {what} » n'est pas ouverte à votre profil.")
        st.stop()
    return reader
