#ifndef S3_CLAMAV_SCANNER_CCLAMAV_SHIM_H
#define S3_CLAMAV_SCANNER_CCLAMAV_SHIM_H

#include <clamav.h>

// Swift cannot import composite macros; these expose the ones we need.

static inline unsigned int cclamav_db_stdopt(void) { return CL_DB_STDOPT; }

#endif
