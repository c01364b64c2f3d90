// Validation of a Repo's `repo_url` before anything touches the network or disk (DESIGN §5
// invariant 4). Pure: the gitsync layer and the Repo service both call it, so a URL that passes
// here is safe to hand to libgit2 and to show back to its owner.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pepeunit::domain {

inline constexpr std::size_t kRepoUrlMaxLength = 2048;

/// Checks `url`; nullopt when it is acceptable, otherwise a message saying what is wrong (safe
/// to return to the client: it never echoes the URL, which might carry a password).
///
/// Always accepted: `http://host[:port]/path.git` and `https://...`, where
///  * the scheme is lowercase, the host is a DNS name, IPv4 or bracketed IPv6 literal and the
///    port (if any) is 1..65535;
///  * no credentials are embedded (`user:pass@host`): they go in the Repo's credentials;
///  * the path starts with `/`, ends with `.git` after a non-empty name, has no `.`/`..`
///    segment, no segment starting with `-`, only RFC 3986 path characters (`%` followed by two
///    hex digits); no query or fragment;
///  * ASCII only, no whitespace or control characters, at most kRepoUrlMaxLength bytes.
/// Only when `allow_local` (BACKEND_ALLOW_LOCAL_REPOS): `file:///abs/path.git` (empty host) and
/// plain absolute paths `/abs/path.git` (or `/abs/work/.git`), with the same segment rules (no
/// `.`, `..`, empty or `-`-leading segment, printable ASCII, no `%?#`, ends with `.git`).
std::optional<std::string> validateRepoUrl(std::string_view url, bool allow_local);

/// True for URLs that name a local repository (`file://` or an absolute path); such URLs are
/// valid only when local repos are allowed.
bool isLocalRepoUrl(std::string_view url);

}  // namespace pepeunit::domain
