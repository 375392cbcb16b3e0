/* Compiles the header as C in every build, so a C-only mistake in it fails the build. */
#include "toolbridge_plugin.h"

_Static_assert(sizeof(tb_status) == 4, "tb_status is 32 bits");
