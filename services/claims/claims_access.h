// Who may call each ClaimsService method: the one place to read it
// (claims_access.cc). See common/access.h for how the table is checked.
#pragma once

#include "common/access.h"
#include "services/claims/claim_rules.h"

namespace careops::claims {

// The rule table; the claims authority chain's roles come from its configuration
// (--authority_chain), the other roles are fixed names (DESIGN: identity and authority).
AccessTable ClaimsAccess(const AuthorityChain& chain);

}  // namespace careops::claims
