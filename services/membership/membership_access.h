// Who may call each MembershipService method: the one place to read it
// (membership_access.cc). See common/access.h for how the table is checked.
#pragma once

#include "common/access.h"

namespace careops::membership {

AccessTable MembershipAccess();

}  // namespace careops::membership
