// Typed errors shared by every layer. Services throw these; http/error_mapping.cpp is the only
// place that turns them into HTTP statuses and the E3 `{"detail": "<code>: <Category>: <msg>"}`.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pepeunit {

// Codes 1-12 are the E3 catalogue (pepeunit_backend_spec.md §2.9); 13+ are ours.
enum class ErrorKind {
  kNoAccess = 1,
  kValidation = 2,
  kUserValidation = 3,
  kPermissionValidation = 4,
  kGitRepoValidation = 5,
  kRepoValidation = 6,
  kUnitValidation = 7,
  kUnitNodeValidation = 8,
  kJsonDecode = 9,
  kMqtt = 10,
  kUpdate = 11,
  kCipher = 12,
  kTooManyRequests = 13,
  kPayloadTooLarge = 14,
  kNotFound = 15,
  kUnavailable = 16,
  kInternal = 17,
};

/// Human category used in the `detail` text, e.g. "No Access".
std::string_view errorCategory(ErrorKind kind);

/// Base of all expected failures. `what()` is the public message (safe to return to clients);
/// `internal()` may carry more context for logs and is never sent out.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string public_message, std::string internal_message = {})
      : std::runtime_error(std::move(public_message)),
        kind_(kind),
        internal_(std::move(internal_message)) {}

  ErrorKind kind() const noexcept { return kind_; }
  int code() const noexcept { return static_cast<int>(kind_); }
  const std::string& internal() const noexcept { return internal_; }
  /// "<code>: <Category>: <message>" as in the E3 error catalogue.
  std::string detail() const;

 private:
  ErrorKind kind_;
  std::string internal_;
};

// Named shorthands so call sites read as the rule they enforce.
struct NoAccess : Error {
  explicit NoAccess(std::string msg) : Error(ErrorKind::kNoAccess, std::move(msg)) {}
};
struct ValidationError : Error {
  explicit ValidationError(std::string msg) : Error(ErrorKind::kValidation, std::move(msg)) {}
};
struct NotFound : Error {
  explicit NotFound(std::string msg) : Error(ErrorKind::kNotFound, std::move(msg)) {}
};
struct Unavailable : Error {
  Unavailable(std::string msg, std::string internal = {})
      : Error(ErrorKind::kUnavailable, std::move(msg), std::move(internal)) {}
};
struct CipherError : Error {
  explicit CipherError(std::string msg) : Error(ErrorKind::kCipher, std::move(msg)) {}
};

/// Thrown while loading configuration: names the variable so the operator can fix it.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string variable, const std::string& message)
      : std::runtime_error(variable + ": " + message), variable_(std::move(variable)) {}
  const std::string& variable() const noexcept { return variable_; }

 private:
  std::string variable_;
};

}  // namespace pepeunit
