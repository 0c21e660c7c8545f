#include "report/near_dups.h"
