#include "report/svg_chart.h"
