"""Who is calling: a bearer credential → the `Reader` every read of the index is for.

Two kinds of credential, both in `Authorization: Bearer …`:
- an API key (`sourcier_…`, `sourcier api-keys add`): a service account with the groups it was given;
- a JWT from the authority's OpenID Connect provider (`api.oidc_issuer`): its signature checked against the
  provider's published keys (JWKS, read through its discovery document and read again when a key is rotated), its
  issuer, audience (`api.oidc_audience`) and expiry checked; name and groups from the same claims as the app.
Anything else is refused: there is no anonymous access, whatever the identity mode of the app.
"""

from __future__ import annotations

import threading
import time

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from sourcier.access import AccessPolicy, Reader, groups_claim, name_claim
from sourcier.api_keys import PREFIX, ApiKeys
from sourcier.errors import ConfigurationError, ServiceUnavailableError, SignInError
from sourcier.settings import Settings

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]  # never "none", never HMAC
POLICY_TTL_S = 60  # the access policy is read again this often: a change applies without a restart
KEYS_MIN_REFRESH_S = 30  # an unknown key id refetches the JWKS at most this often (forged ids cannot flood it)


class ProviderKeys:
    """The provider's signing keys, fetched on first use and again when a token names a key not seen yet."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self._keys: KeySet | None = None
        self._kids: set[str] = set()
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def get(self, kid: str | None) -> KeySet:
        with self._lock:
            stale = self._keys is None or (
                kid is not None and kid not in self._kids and time.monotonic() - self._fetched_at > KEYS_MIN_REFRESH_S
            )
            if stale:
                jwks = self._fetch()
                self._keys, self._fetched_at = KeySet.import_key_set(jwks), time.monotonic()
                self._kids = {str(key.get("kid")) for key in jwks.get("keys", [])}
            assert self._keys is not None
            return self._keys

    def _fetch(self) -> dict:
        try:
            discovery = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).raise_for_status()
            jwks = httpx.get(discovery.json()["jwks_uri"], timeout=10).raise_for_status().json()
            KeySet.import_key_set(jwks)  # fails here, as the provider's fault, if the keys are unusable
            return jwks
        except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as error:
            raise ServiceUnavailableError(
                f"Le fournisseur d'identité ({self.issuer}) ne répond pas : jeton impossible à vérifier. Réessayez "
                "plus tard ; s'il persiste, l'administrateur vérifie le réglage api.oidc_issuer."
            ) from error


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        api = settings.api
        if api.oidc_issuer and not api.oidc_audience:
            raise ConfigurationError(
                "api.oidc_issuer est réglé sans api.oidc_audience : Sourcier accepterait un jeton émis pour une autre "
                "application. Indiquez l'audience de ses jetons (souvent l'identifiant du client OIDC)."
            )
        self.settings = settings
        self.keys = ApiKeys.of(settings.store)
        self.provider = ProviderKeys(api.oidc_issuer) if api.oidc_issuer else None
        self._policy: tuple[float, AccessPolicy] | None = None
        self._policy_lock = threading.Lock()

    def policy(self) -> AccessPolicy:
        with self._policy_lock:
            if self._policy is None or time.monotonic() - self._policy[0] > POLICY_TTL_S:
                self._policy = (time.monotonic(), AccessPolicy.load(self.settings.access.policy))
            return self._policy[1]

    def reader(self, authorization: str | None) -> Reader:
        """The reader a request's `Authorization` header stands for; `SignInError` if none."""
        scheme, _, credential = (authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise SignInError("Identification requise : envoyez « Authorization: Bearer <clé d'API ou jeton OIDC> ».")
        if credential.startswith(PREFIX):
            key = self.keys.verify(credential)
            return self.policy().reader(key.reader_name, key.groups)
        if self.provider is None:
            raise SignInError("Clé d'API inconnue ou révoquée (aucun fournisseur d'identité n'est configuré).")
        return self._from_token(credential)

    def _from_token(self, token: str) -> Reader:
        identity, api = self.settings.identity, self.settings.api
        assert self.provider is not None
        refused = SignInError("Jeton refusé : signature, émetteur, audience ou date de validité incorrects.")
        try:
            kid = jws.extract_compact(token.encode()).protected.get("kid")  # unverified: only to pick the key
            decoded = jwt.decode(token, self.provider.get(kid), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=30,
                iss={"essential": True, "value": self.provider.issuer},
                aud={"essential": True, "value": api.oidc_audience},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise refused from error
        claims = decoded.claims
        name = name_claim(claims, identity.name_claims)
        if name is None:
            raise refused
        return self.policy().reader(name, groups_claim(claims.get(identity.groups_claim)))
