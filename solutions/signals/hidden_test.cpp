// Lab `signals`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
