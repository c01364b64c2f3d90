// AclWorld: one transaction of INSERTs per world.
#include "integration/harness/acl_world.hpp"

#include <atomic>
#include <pqxx/pqxx>

namespace pepeunit::testing {

AclUsers registerAclUsers(HttpClient& http, const std::string& prefix) {
  AclUsers users;
  users.admin = registerAndLogin(http, prefix + "_admin");
  users.alice = registerAndLogin(http, prefix + "_alice");
  users.bob = registerAndLogin(http, prefix + "_bob");
  return users;
}

AclWorld::AclWorld(Stack& stack, const AclUsers& users) : u(users) {
  static std::atomic<int> counter{0};
  tag = std::to_string(++counter);
  pqxx::connection conn(stack.pg().url());
  pqxx::work tx(conn);
  const auto repo = tx.exec_params1(
                          "INSERT INTO repos (name, repo_url, creator_uuid) VALUES ($1,"
                          " 'https://example.com/r.git', $2) RETURNING uuid",
                          "aclrepo" + tag, u.alice.uuid)[0]
                        .as<std::string>();
  const auto unit = [&](const std::string& name, const std::string& creator) {
    return tx
        .exec_params1(
            "INSERT INTO units (name, creator_uuid, repo_uuid) VALUES ($1, $2, $3)"
            " RETURNING uuid",
            name + tag, creator, repo)[0]
        .as<std::string>();
  };
  unit_a = unit("aclunitA", u.alice.uuid);
  unit_b = unit("aclunitB", u.bob.uuid);
  const auto node = [&](const char* type, const std::string& owner, const std::string& creator,
                        const char* level, bool rewritable) {
    return tx
        .exec_params1(
            "INSERT INTO units_nodes (type, visibility_level, topic_name, creator_uuid,"
            " unit_uuid, is_rewritable_input) VALUES ($1, $2, 'x/pepeunit', $3, $4, $5)"
            " RETURNING uuid",
            type, level, creator, owner, rewritable)[0]
        .as<std::string>();
  };
  a_out = node("Output", unit_a, u.alice.uuid, "Public", false);
  a_in = node("Input", unit_a, u.alice.uuid, "Public", false);
  b_out = node("Output", unit_b, u.bob.uuid, "Internal", false);
  b_in = node("Input", unit_b, u.bob.uuid, "Public", true);
  b_fixed = node("Input", unit_b, u.bob.uuid, "Public", false);
  b_granted = node("Output", unit_b, u.bob.uuid, "Private", false);
  b_hidden = node("Output", unit_b, u.bob.uuid, "Private", false);
  tx.exec_params(
      "INSERT INTO units_nodes_edges (node_output_uuid, node_input_uuid, creator_uuid)"
      " VALUES ($1, $2, $3)",
      b_out, a_in, u.alice.uuid);
  tx.exec_params(
      "INSERT INTO permissions (agent_type, agent_unit_uuid, resource_type,"
      " resource_unit_node_uuid) VALUES ('Unit', $1, 'UnitNode', $2)",
      unit_a, b_granted);
  tx.commit();
}

}  // namespace pepeunit::testing
