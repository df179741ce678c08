// The access table of careops.collections.v1.CollectionsService (common/access.h).
#pragma once

#include "common/access.h"

namespace careops::collections {

AccessTable CollectionsAccess();

}  // namespace careops::collections
