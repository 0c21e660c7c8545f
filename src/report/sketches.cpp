#include "report/sketches.h"
