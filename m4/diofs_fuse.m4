# DIOFS_FUSE_PROBES: the kernel's FUSE protocol header.  diofs speaks the
# protocol itself (src/daemon/fuse_proto.c): INIT flags newer than the
# installed <linux/fuse.h> are defined by fuse_proto.h with the kernel's
# values where HAVE_DECL_X is 0.
AC_DEFUN([DIOFS_FUSE_PROBES], [
  AC_CHECK_DECLS([FUSE_CREATE_SUPP_GROUP, FUSE_HAS_EXPIRE_ONLY,
    FUSE_DIRECT_IO_ALLOW_MMAP, FUSE_PASSTHROUGH, FUSE_NO_EXPORT_SUPPORT,
    FUSE_HAS_RESEND, FUSE_ALLOW_IDMAP, FUSE_OVER_IO_URING,
    FUSE_REQUEST_TIMEOUT, FUSE_IO_URING_CMD_REGISTER], [], [],
    [[#include <linux/fuse.h>]])
])
