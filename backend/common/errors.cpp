// Category names of the error catalogue.
#include "common/errors.hpp"

namespace pepeunit {

std::string_view errorCategory(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNoAccess:
      return "No Access";
    case ErrorKind::kValidation:
      return "Validation Error";
    case ErrorKind::kUserValidation:
      return "User Validation Error";
    case ErrorKind::kPermissionValidation:
      return "Permission Validation Error";
    case ErrorKind::kGitRepoValidation:
      return "Git Repo Validation Error";
    case ErrorKind::kRepoValidation:
      return "Repo Validation Error";
    case ErrorKind::kUnitValidation:
      return "Unit Validation Error";
    case ErrorKind::kUnitNodeValidation:
      return "UnitNode Validation Error";
    case ErrorKind::kJsonDecode:
      return "JSON Decode Error";
    case ErrorKind::kMqtt:
      return "MQTT Error";
    case ErrorKind::kUpdate:
      return "Update Error";
    case ErrorKind::kCipher:
      return "Cipher Error";
    case ErrorKind::kTooManyRequests:
      return "Too Many Requests";
    case ErrorKind::kPayloadTooLarge:
      return "Payload Too Large";
    case ErrorKind::kNotFound:
      return "Not Found";
    case ErrorKind::kUnavailable:
      return "Service Unavailable";
    case ErrorKind::kInternal:
      return "Internal Error";
  }
  return "Error";
}

std::string Error::detail() const {
  return std::to_string(code()) + ": " + std::string(errorCategory(kind_)) + ": " + what();
}

}  // namespace pepeunit
