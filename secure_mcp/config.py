"""Configuration: ``config.toml`` read once with ``tomllib`` into frozen pydantic models.

Every model forbids unknown keys, so a typo is an error that names the key path instead of a
setting silently ignored. Relative paths resolve against the config file's folder. Stages receive
the parsed object and never read files or the environment themselves.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from secure_mcp.errors import ConfigError

CONFIG_ENV = "SECURE_MCP_CONFIG"
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

Verdict = Literal["allow", "confirm", "deny"]
SanitizeAction = Literal["warn", "confirm", "block"]
OutputAction = Literal["warn", "block"]  # an output cannot be confirmed: the work is already done


def parse_size(value: str | int) -> int:
    """Bytes from ``256m``/``1g``/``4096``, the way Docker reads sizes.

    Raises:
        ValueError: the value is not a size.
    """
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be positive")
        return value
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a size like '256m', '1g' or '65536'")
    number = int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if number <= 0:
        raise ValueError("must be positive")
    return number


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """``[server]``: what the HTTP transports accept besides loopback."""

    name: str = Field(default="secure-mcp", min_length=1, max_length=64)
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()


class WorkspaceConfig(_Section):
    """``[workspace]``: the only folder the tools may write to."""

    root: Path = Path("workspace")


class AuditConfig(_Section):
    """``[audit]``: the hash-chained JSON Lines log."""

    path: Path = Path("audit/audit.jsonl")
    key_env: str | None = None
    key_file: Path | None = None
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)
    fsync: Literal["group", "always"] = "group"


class SandboxConfig(_Section):
    """``[sandbox]``: the Docker containers that run code and commands."""

    image: str = Field(default="secure-mcp-sandbox:latest", min_length=1)
    memory: str = "256m"
    cpus: float = Field(default=1.0, gt=0, le=64)
    pids: int = Field(default=64, ge=8, le=4096)
    timeout_s: int = Field(default=30, ge=1, le=3600)
    max_output_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_concurrent: int = Field(default=4, ge=1, le=64)
    warm_pool: int = Field(default=2, ge=0, le=16)
    runtime: str | None = None
    tmpfs_size: str = "64m"
    nofile: int = Field(default=256, ge=16, le=65536)
    fsize: str = "64m"
    pool_spawners: int = Field(default=2, ge=1, le=16)
    warm_pool_rw: int | None = Field(default=None, ge=0, le=64)

    @field_validator("memory", "tmpfs_size", "fsize")
    @classmethod
    def _is_size(cls, value: str) -> str:
        parse_size(value)
        return value

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)


class ConfirmationConfig(_Section):
    """``[confirmation]``: asking a human through MCP elicitation."""

    when_unsupported: Literal["deny", "allow"] = "deny"
    timeout_s: int = Field(default=120, ge=1, le=3600)
    channel: Literal["elicitation", "console", "both"] = "both"  # where a person can answer (issue 16)


class ApprovalsConfig(_Section):
    """``[approvals]``: the approval console, where a person decides out of band (issue 16)."""

    enabled: bool = True
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8766, ge=0, le=65535)  # 0: any free port (tests); the CLI reads the state file
    public_url: str = Field(default="", pattern=r"^(https?://[^\s/?#]+/?)?$")
    state_dir: Path = Path("state")
    approvers: tuple[str, ...] = ()
    session_ttl_s: int = Field(default=8 * 3600, ge=60, le=7 * 86400)
    link_ttl_s: int = Field(default=600, ge=30, le=86400)

    @field_validator("approvers")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
                raise ValueError(f"{name!r} is not an approver name (letters, digits, _ . @ -)")
        return value


class _ToolConfig(_Section):
    enabled: bool = True
    when_unsupported: Literal["deny", "allow"] | None = None  # overrides [confirmation] for this tool


class EffectsConfig(_Section):
    """``[tools.run_command.effects]``: how a read-write run's change set is judged and applied.

    Applies to run_command and to execute_python with ``workspace = "rw"``.
    """

    state_dir: Path = Path("state")
    max_bytes: str = "64m"
    max_files: int = Field(default=10_000, ge=1, le=1_000_000)
    existing: Literal["confirm", "deny", "allow"] = "confirm"
    protected: Literal["deny", "confirm"] = "deny"
    protected_names: tuple[str, ...] = (".git", ".ssh", ".env", ".envrc", ".vscode", ".idea")
    repositories: Literal["deny", "confirm"] = "deny"
    setid: Literal["deny", "strip"] = "deny"
    special_files: Literal["deny", "strip"] = "strip"
    diff_chars: int = Field(default=4000, ge=200, le=100_000)
    diff_read_limit: str = "256k"
    pending_ttl_s: int = Field(default=600, ge=10, le=86_400)

    @field_validator("max_bytes", "diff_read_limit")
    @classmethod
    def _is_size(cls, value: str) -> str:
        parse_size(value)
        return value

    @field_validator("protected_names")
    @classmethod
    def _bare_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(f"{name!r} is not a bare file or folder name")
        return value


class RunCommandConfig(_ToolConfig):
    """``[tools.run_command]``: the program policy."""

    # Bundled lists (config.toml has the same, commented); see docs/command_policy.md.
    allow: tuple[str, ...] = (
        "ls", "cat", "echo", "printf", "grep", "egrep", "fgrep", "head", "tail", "wc", "python3", "pytest", "bash",
        "sh", "git", "find", "xargs", "sort", "uniq", "diff", "cmp", "comm", "sed", "awk", "gawk", "cut", "tr",
        "tee", "paste", "join", "column", "nl", "fold", "fmt", "rev", "tac", "od", "base64", "md5sum", "sha1sum",
        "sha256sum", "sha512sum", "cksum", "mkdir", "touch", "test", "true", "false", "pwd", "basename", "dirname",
        "realpath", "readlink", "stat", "file", "du", "df", "date", "seq", "expr", "sleep", "timeout", "nice", "env",
        "printenv", "which", "jq", "make", "split", "mktemp", "id", "whoami", "uname", "nproc", "ps", "pgrep",
        "zcat", "cal",
    )
    confirm: tuple[str, ...] = (
        "rm", "rmdir", "mv", "cp", "ln", "chmod", "chown", "chgrp", "dd", "truncate", "shred", "install", "patch",
        "tar", "unzip", "zip", "gzip", "gunzip", "bzip2", "xz", "rsync", "kill", "pkill", "killall", "pip", "pip3",
    )
    deny: tuple[str, ...] = (
        "sudo", "su", "doas", "mount", "umount", "nc", "ncat", "netcat", "socat", "curl", "wget", "ssh", "scp",
        "sftp", "telnet", "ftp", "nsenter", "unshare", "docker", "mkfs", "fdisk", "insmod", "modprobe", "iptables",
        "reboot", "shutdown",
    )
    unknown: Literal["confirm", "deny"] = "confirm"
    effects: EffectsConfig = EffectsConfig()

    @model_validator(mode="after")
    def _lists_disjoint(self) -> RunCommandConfig:
        for a, b in (("allow", "confirm"), ("allow", "deny"), ("confirm", "deny")):
            both = sorted(set(getattr(self, a)) & set(getattr(self, b)))
            if both:
                raise ValueError(f"{both} listed in both '{a}' and '{b}'")
        for name in (*self.allow, *self.confirm, *self.deny):
            if not name or "/" in name or name != name.strip():
                raise ValueError(f"{name!r} is not a bare program name")
        return self


class WriteFileConfig(_ToolConfig):
    """``[tools.write_file]``."""

    max_bytes: int = Field(default=1024 * 1024, ge=1, le=256 * 1024 * 1024)
    deny_globs: tuple[str, ...] = (".git/**", "**/.ssh/**", "**/.env")


class ExecutePythonConfig(_ToolConfig):
    """``[tools.execute_python]``."""

    workspace: Literal["ro", "rw"] = "ro"
    confirm: bool = False


class FetchUrlConfig(_ToolConfig):
    """``[tools.fetch_url]``: the SSRF guard's settings."""

    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    max_bytes: int = Field(default=1024 * 1024, ge=1, le=64 * 1024 * 1024)
    timeout_s: int = Field(default=15, ge=1, le=300)
    max_redirects: int = Field(default=5, ge=0, le=10)

    @field_validator("allow_hosts")
    @classmethod
    def _host_port(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            host, sep, port = entry.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{entry!r} is not an exact 'host:port'")
        return value


class ToolsConfig(_Section):
    """``[tools.*]``."""

    def get(self, name: str) -> _ToolConfig | None:
        value = getattr(self, name, None)
        return value if isinstance(value, _ToolConfig) else None

    run_command: RunCommandConfig = RunCommandConfig()
    write_file: WriteFileConfig = WriteFileConfig()
    execute_python: ExecutePythonConfig = ExecutePythonConfig()
    fetch_url: FetchUrlConfig = FetchUrlConfig()


class TokenConfig(_Section):
    """One ``[[auth.tokens]]`` table: a bearer token known only by its SHA-256."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    tools: tuple[str, ...] = ()


class OidcConfig(_Section):
    """``[auth.oidc]``: JWT access tokens from an OpenID Connect issuer, one scope per tool."""

    issuer: str = Field(min_length=1, pattern=r"^https?://")
    audience: str = Field(min_length=1)
    jwks_url: str | None = Field(default=None, pattern=r"^https?://")
    jwks_file: Path | None = None
    algorithms: tuple[Literal["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"], ...] = ("RS256", "ES256")
    principal_claim: str = Field(default="sub", min_length=1)
    tool_scope_prefix: str = Field(default="tool:", min_length=1)
    leeway_s: int = Field(default=30, ge=0, le=300)

    @model_validator(mode="after")
    def _one_key_source(self) -> OidcConfig:
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("set exactly one of 'jwks_url' and 'jwks_file'")
        if not self.algorithms:
            raise ValueError("'algorithms' must name at least one asymmetric algorithm")
        return self


class AuthConfig(_Section):
    """``[auth]``: bearer tokens for the HTTP transports."""

    disabled: bool = False
    tokens: tuple[TokenConfig, ...] = ()
    oidc: OidcConfig | None = None

    @model_validator(mode="after")
    def _unique(self) -> AuthConfig:
        names = [t.name for t in self.tokens]
        hashes = [t.sha256 for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("token names must be unique")
        if len(set(hashes)) != len(hashes):
            raise ValueError("two tokens share one sha256")
        return self

    @model_validator(mode="after")
    def _not_disabled_and_configured(self) -> AuthConfig:
        # Obeying either half would be wrong: dropping the tokens lets a tokenless request run every
        # tool, ignoring ``disabled`` hides a setting someone wrote on purpose. Refuse, say which.
        if self.disabled and (self.tokens or self.oidc is not None):
            named = [name for name, on in (("[[auth.tokens]]", self.tokens), ("[auth.oidc]", self.oidc)) if on]
            configured = " and ".join(named)
            raise ValueError(
                f"[auth] disabled = true cannot be combined with {configured}: remove 'disabled = true' to "
                "require the configured tokens, or remove the tokens to run without auth (loopback only)"
            )
        return self


class LimitsConfig(_Section):
    """``[limits]``: per-principal call rate and concurrency."""

    calls_per_minute: int = Field(default=120, ge=1, le=100_000)
    burst: int = Field(default=20, ge=1, le=10_000)
    max_concurrent_sandboxes: int = Field(default=2, ge=1, le=64)
    max_argument_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Open MCP sessions per principal (streamable HTTP sessions and SSE connections), so one token
    # cannot fill the server-wide table and lock every other principal out.
    max_sessions: int = Field(default=16, ge=1, le=10_000)
    # A session with no request in flight (SSE: no message either way) for this long is closed.
    session_idle_timeout_s: int = Field(default=1800, ge=1, le=7 * 24 * 3600)


class SanitizeToolConfig(_Section):
    """``[sanitize.tools.NAME]``: per-tool override of the finding actions."""

    input: SanitizeAction | None = None
    output: OutputAction | None = None


class SanitizeConfig(_Section):
    """``[sanitize]``: what a prompt-injection finding does, per direction and tool."""

    input: SanitizeAction = "confirm"
    output: OutputAction = "warn"
    tools: dict[str, SanitizeToolConfig] = Field(default_factory=dict)

    def action(self, tool: str, direction: Literal["input", "output"]) -> str:
        override = self.tools.get(tool)
        chosen = getattr(override, direction) if override is not None else None
        return str(chosen if chosen is not None else getattr(self, direction))


class RedactionConfig(_Section):
    """``[redaction]``: extra patterns, kinds to disable, literal values never masked."""

    extra_patterns: dict[str, str] = Field(default_factory=dict)
    disabled_kinds: tuple[str, ...] = ()
    allowlist: tuple[str, ...] = ()


class Config(_Section):
    """The whole configuration. ``base_dir`` is the config file's folder (or the cwd for defaults)."""

    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    source: Path | None = Field(default=None, exclude=True)
    server: ServerConfig = ServerConfig()
    workspace: WorkspaceConfig = WorkspaceConfig()
    audit: AuditConfig = AuditConfig()
    sandbox: SandboxConfig = SandboxConfig()
    confirmation: ConfirmationConfig = ConfirmationConfig()
    tools: ToolsConfig = ToolsConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    sanitize: SanitizeConfig = SanitizeConfig()
    redaction: RedactionConfig = RedactionConfig()
    approvals: ApprovalsConfig = ApprovalsConfig()

    @model_validator(mode="after")
    def _workspace_holds_no_control_file(self) -> Config:
        """Refuse a workspace that contains the config, the audit log or its key.

        The agent writes the workspace (write_file, run_command): from inside it, it could rewrite
        its own policy for the next start, or edit and cut the record of what it did.
        """
        root = self.workspace_root.resolve()
        controls = [("the config file", self.source), ("the audit log", self.audit_path)]
        if self.audit.key_file is not None:
            controls.append(("the audit key", self.resolve(self.audit.key_file)))
        for what, path in controls:
            if path is not None and path.resolve().is_relative_to(root):
                raise ValueError(
                    f"'workspace.root' ({root}) contains {what} ({path}): an agent could rewrite it; "
                    "move one of them outside the other"
                )
        return self

    def resolve(self, path: Path) -> Path:
        """An absolute path: relative ones are taken from the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def workspace_root(self) -> Path:
        return self.resolve(self.workspace.root)

    @property
    def audit_path(self) -> Path:
        return self.resolve(self.audit.path)


def _describe(error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'")
        elif not err["loc"] and err["type"] == "value_error":
            lines.append(str(err.get("ctx", {}).get("error", err["msg"])))  # a whole-config rule names its keys
        else:
            lines.append(f"'{key}': {err['msg']}")
    return "; ".join(lines)


def parse_config(data: dict[str, object], base_dir: Path, source: Path | None = None) -> Config:
    """Validate a parsed TOML document.

    Raises:
        ConfigError: a key is unknown, has the wrong type or an impossible value.
    """
    try:
        return Config.model_validate({**data, "base_dir": base_dir.resolve(), "source": source})
    except ValidationError as exc:
        where = f"{source}: " if source is not None else ""
        raise ConfigError(f"{where}{_describe(exc)}") from None


def find_config(explicit: Path | None) -> Path | None:
    """Where the config comes from: ``--config``, else ``$SECURE_MCP_CONFIG``, else ``./config.toml``."""
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


def load_config(explicit: Path | None = None) -> Config:
    """Load the configuration, or the built-in defaults when there is no file.

    Raises:
        ConfigError: the file named cannot be read, is not TOML, or is not a valid config.
    """
    path = find_config(explicit)
    if path is None:
        return Config()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, path.resolve().parent, path.resolve())
