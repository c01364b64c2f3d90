// The access fixture shared by the broker-authorization tests (backend rule sets in acl_pgtest,
// the plugin against the real backend in authplugin_e2etest): two users' units with nodes of
// every kind that matters to a rule set, written straight into Postgres (other areas own those
// endpoints; the rule sets only read the rows).
#pragma once

#include <string>

#include "integration/harness/api_fixtures.hpp"
#include "integration/harness/stack.hpp"

namespace pepeunit::testing {

/// Three users registered over REST (the first user of a backend is its Admin).
struct AclUsers {
  ApiUser admin;
  ApiUser alice;
  ApiUser bob;
};

/// `<prefix>_admin`, `<prefix>_alice`, `<prefix>_bob`.
AclUsers registerAclUsers(HttpClient& http, const std::string& prefix);

/// alice's unit A: Output a_out (Public), Input a_in (Public, not rewritable).
/// bob's unit B: Output b_out (Internal, linked into a_in), Input b_in (Public, rewritable),
/// Input b_fixed (Public, not rewritable), Output b_granted (Private, granted to A),
/// Output b_hidden (Private, no grant). Names carry a per-process counter, so several worlds
/// live in one database.
struct AclWorld {
  AclWorld(Stack& stack, const AclUsers& users);

  const AclUsers& u;
  std::string tag;
  std::string unit_a, unit_b;
  std::string a_out, a_in, b_out, b_in, b_fixed, b_granted, b_hidden;
};

}  // namespace pepeunit::testing
