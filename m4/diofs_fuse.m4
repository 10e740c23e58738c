# DIOFS_FUSE_PROBES: features of libfuse newer than 3.14, each a HAVE_ macro.
AC_DEFUN([DIOFS_FUSE_PROBES], [
  diofs_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS $FUSE3_CFLAGS"
  AC_CACHE_CHECK([for parallel_direct_writes in struct fuse_file_info],
    [diofs_cv_parallel_direct_writes],
    [AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>]], [[struct fuse_file_info fi; fi.parallel_direct_writes = 1; (void)fi;]])],
      [diofs_cv_parallel_direct_writes=yes], [diofs_cv_parallel_direct_writes=no])])
  AS_IF([test "x$diofs_cv_parallel_direct_writes" = xyes],
    [AC_DEFINE([HAVE_FUSE_PARALLEL_DIRECT_WRITES], [1],
      [struct fuse_file_info has parallel_direct_writes (libfuse >= 3.14.1)])])
  AC_CHECK_DECL([FUSE_CAP_DIRECT_IO_ALLOW_MMAP],
    [AC_DEFINE([HAVE_FUSE_CAP_DIRECT_IO_ALLOW_MMAP], [1],
      [libfuse can negotiate FUSE_DIRECT_IO_ALLOW_MMAP (libfuse >= 3.17)])],
    [], [[
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>]])
  CFLAGS=$diofs_save_CFLAGS
])
