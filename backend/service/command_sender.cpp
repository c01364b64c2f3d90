// Command names as they appear in payloads ({"COMMAND": "Update"}) and REST query strings.
#include "service/command_sender.hpp"

namespace pepeunit::service {

std::string_view toString(UnitCommand command) {
  switch (command) {
    case UnitCommand::kUpdate:
      return "Update";
    case UnitCommand::kEnvUpdate:
      return "EnvUpdate";
    case UnitCommand::kSchemaUpdate:
      return "SchemaUpdate";
    case UnitCommand::kLogSync:
      return "LogSync";
  }
  return "Update";
}

}  // namespace pepeunit::service
