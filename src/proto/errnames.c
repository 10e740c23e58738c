#include <config.h>
#include "errnames.h"

#include <errno.h>
#include <stddef.h>
#include <strings.h>

/* Symbols, not numbers: the values differ between architectures. */
#define E(name) { name, #name },
static const struct {
	int err;
	const char *name;
} errnames[] = {
	E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC)
	E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(ENOTBLK)
	E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL)
	E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE)
	E(EROFS) E(EMLINK) E(EPIPE) E(EDOM) E(ERANGE) E(EDEADLK) E(ENAMETOOLONG)
	E(ENOLCK) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(ENOMSG) E(EIDRM) E(ECHRNG)
	E(EL2NSYNC) E(EL3HLT) E(EL3RST) E(ELNRNG) E(EUNATCH) E(ENOCSI) E(EL2HLT)
	E(EBADE) E(EBADR) E(EXFULL) E(ENOANO) E(EBADRQC) E(EBADSLT) E(EBFONT)
	E(ENOSTR) E(ENODATA) E(ETIME) E(ENOSR) E(ENONET) E(ENOPKG) E(EREMOTE)
	E(ENOLINK) E(EADV) E(ESRMNT) E(ECOMM) E(EPROTO) E(EMULTIHOP) E(EDOTDOT)
	E(EBADMSG) E(EOVERFLOW) E(ENOTUNIQ) E(EBADFD) E(EREMCHG) E(ELIBACC)
	E(ELIBBAD) E(ELIBSCN) E(ELIBMAX) E(ELIBEXEC) E(EILSEQ) E(ERESTART)
	E(ESTRPIPE) E(EUSERS) E(ENOTSOCK) E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE)
	E(ENOPROTOOPT) E(EPROTONOSUPPORT) E(ESOCKTNOSUPPORT) E(EOPNOTSUPP)
	E(EPFNOSUPPORT) E(EAFNOSUPPORT) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETDOWN)
	E(ENETUNREACH) E(ENETRESET) E(ECONNABORTED) E(ECONNRESET) E(ENOBUFS)
	E(EISCONN) E(ENOTCONN) E(ESHUTDOWN) E(ETOOMANYREFS) E(ETIMEDOUT)
	E(ECONNREFUSED) E(EHOSTDOWN) E(EHOSTUNREACH) E(EALREADY) E(EINPROGRESS)
	E(ESTALE) E(EUCLEAN) E(ENOTNAM) E(ENAVAIL) E(EISNAM) E(EREMOTEIO) E(EDQUOT)
	E(ENOMEDIUM) E(EMEDIUMTYPE) E(ECANCELED) E(ENOKEY) E(EKEYEXPIRED)
	E(EKEYREVOKED) E(EKEYREJECTED) E(EOWNERDEAD) E(ENOTRECOVERABLE) E(ERFKILL)
	E(EHWPOISON)
	/* Aliases after the names they share a value with, so that
	 * errno_name() gives the usual one. */
	E(EWOULDBLOCK) E(EDEADLOCK) E(ENOTSUP)
};
#undef E

#define NAMES (sizeof(errnames) / sizeof(errnames[0]))

/* libfuse 3.14 replies ERANGE instead of any error of 1000 or more. */
#define ERRNO_NUMBER_MAX 999

int errno_from_name(const char *name)
{
	if (!name || !*name)
		return -1;
	if (*name >= '0' && *name <= '9') {
		int err = 0;
		for (const char *p = name; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			err = err * 10 + (*p - '0');
			if (err > ERRNO_NUMBER_MAX)
				return -1;
		}
		return err > 0 ? err : -1;
	}
	for (size_t i = 0; i < NAMES; i++)
		if (strcasecmp(errnames[i].name, name) == 0)
			return errnames[i].err;
	return -1;
}

const char *errno_name(int err)
{
	for (size_t i = 0; i < NAMES; i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	return "E?";
}
