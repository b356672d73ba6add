"""Security defaults that fail closed: unknown settings, the demo mode's visitors, commands run as nobody in
particular."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sourcier.errors import ConfigurationError
from sourcier.settings import IdentityMode, load_settings
from ui import identity


def test_a_misspelt_key_in_the_settings_file_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sourcier.toml").write_text('[identity]\nmod = "oidc"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"réglage inconnu « identity\.mod »"):
        load_settings()
    (tmp_path / "sourcier.toml").write_text('[identity]\nmode = "oidc"\n', encoding="utf-8")
    assert load_settings().identity.mode is IdentityMode.OIDC


def test_a_misspelt_or_invalid_environment_variable_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCIER_IDENTITY__MOD", "oidc")
    with pytest.raises(ConfigurationError, match="SOURCIER_IDENTITY__MOD"):
        load_settings()
    monkeypatch.delenv("SOURCIER_IDENTITY__MOD")
    monkeypatch.setenv("SOURCIER_IDENTITY__MODE", "oidcc")
    with pytest.raises(ConfigurationError, match="« oidcc » n'est pas une valeur possible"):
        load_settings()


def test_an_unknown_section_and_a_missing_file_are_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sourcier.toml").write_text('[identite]\nmode = "oidc"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="« identite »"):
        load_settings()
    with pytest.raises(ConfigurationError, match="introuvable"):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("ip", "headers", "local"),
    [
        (None, {"Host": "127.0.0.1:8501", "Origin": "http://127.0.0.1:8501"}, True),
        (None, {"Host": "localhost:8501", "Origin": "http://localhost:8501"}, True),
        (None, {"Host": "[::1]:8501"}, True),
        (None, {}, True),  # no browser at all (AppTest), from loopback
        ("10.0.0.7", {"Host": "10.0.0.5:8501"}, False),  # another machine
        (None, {"Host": "127.0.0.1:8501", "X-Forwarded-For": "10.0.0.7"}, False),  # a proxy on this host
        (None, {"Host": "127.0.0.1:8501", "Via": "1.1 nginx"}, False),
        (None, {"Host": "127.0.0.1:8501", "Origin": "https://sourcier.mairie.fr"}, False),  # a plain proxy
        (None, {"Host": "sourcier.mairie.fr"}, False),
    ],
)
def test_the_demo_mode_serves_only_a_browser_on_the_server_itself(monkeypatch, ip, headers, local):
    monkeypatch.setattr(identity, "st", SimpleNamespace(context=SimpleNamespace(ip_address=ip, headers=headers)))
    assert identity.visitor_is_on_this_machine() is local


def test_an_empty_bind_address_is_not_loopback():
    assert not identity.is_loopback("") and not identity.is_loopback("0.0.0.0")
    assert identity.is_loopback("127.0.0.1") and identity.is_loopback("::1") and identity.is_loopback("localhost")


def test_an_oidc_session_ends_when_its_groups_are_older_than_the_setting(monkeypatch):
    """Streamlit keeps the sign-in's claims for 30 days: someone removed from « rh » at the provider kept reading
    the HR documents that long."""
    import time

    from sourcier.access import AccessPolicy
    from sourcier.settings import Settings

    logged_out = []
    claims = {"email": "claire@mairie.fr", "email_verified": True, "groups": ["rh"], "iat": time.time() - 30 * 60}
    user = SimpleNamespace(is_logged_in=True, to_dict=lambda: claims)
    stub = SimpleNamespace(user=user, session_state={}, logout=lambda: logged_out.append(1))
    monkeypatch.setattr(identity, "st", stub)
    monkeypatch.setattr(identity, "settings", lambda: Settings(identity={"mode": "oidc"}))
    monkeypatch.setattr(identity, "policy", lambda: AccessPolicy.load(None))
    monkeypatch.setattr(identity, "_audit_sign_in", lambda reader: None)
    assert identity._from_oidc().name == "claire@mairie.fr" and not logged_out
    claims["iat"] = time.time() - 61 * 60
    assert identity._from_oidc() is None and logged_out == [1]
    del claims["iat"]
    assert identity._from_oidc() is None and logged_out == [1, 1]


def test_trusted_proxies_are_addresses_and_networks_compared_as_such():
    trusted = ("10.0.0.10", "192.168.5.0/29")
    assert identity.is_trusted_proxy("10.0.0.10", trusted) and identity.is_trusted_proxy("::ffff:10.0.0.10", trusted)
    assert identity.is_trusted_proxy("192.168.5.6", trusted) and not identity.is_trusted_proxy("192.168.5.9", trusted)
    assert not identity.is_trusted_proxy("10.0.0.100", trusted) and not identity.is_trusted_proxy("proxy", trusted)
    assert not identity.is_trusted_proxy("127.0.0.1", ("proxy.mairie.local",))
