/*
 * ublk_uapi.h - the kernel's ublk interface (include/uapi/linux/ublk_cmd.h)
 * as uzram uses it, on any Debian 12 header.
 *
 * Debian 12's linux-libc-dev carries the 6.1 header, which lacks the
 * ioctl-encoded command numbers (UBLK_U_*, Linux 6.4) and GET_FEATURES
 * (6.5). They are defined here from the structures it has, whose sizes
 * never changed (32-byte control command, 16-byte I/O command), and checked
 * against the kernel's published values at compile time.
 */
#ifndef UZRAM_UBLK_UAPI_H
#define UZRAM_UBLK_UAPI_H

#include <linux/ioctl.h>
#include <linux/ublk_cmd.h>

#ifndef UBLK_U_CMD_GET_DEV_INFO
#define UBLK_U_CMD_GET_DEV_INFO		_IOR('u', UBLK_CMD_GET_DEV_INFO, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_ADD_DEV		_IOWR('u', UBLK_CMD_ADD_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_DEL_DEV		_IOWR('u', UBLK_CMD_DEL_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_DEV		_IOWR('u', UBLK_CMD_START_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_STOP_DEV		_IOWR('u', UBLK_CMD_STOP_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_SET_PARAMS		_IOWR('u', UBLK_CMD_SET_PARAMS, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_CMD_GET_FEATURES
#define UBLK_CMD_GET_FEATURES		0x13	/* no legacy form: 6.5+ only */
#define UBLK_U_CMD_GET_FEATURES		_IOR('u', UBLK_CMD_GET_FEATURES, struct ublksrv_ctrl_cmd)
#define UBLK_FEATURES_LEN		8
#endif
#ifndef UBLK_U_IO_FETCH_REQ
#define UBLK_U_IO_FETCH_REQ		_IOWR('u', UBLK_IO_FETCH_REQ, struct ublksrv_io_cmd)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ	_IOWR('u', UBLK_IO_COMMIT_AND_FETCH_REQ, struct ublksrv_io_cmd)
#endif
#ifndef UBLK_F_CMD_IOCTL_ENCODE
#define UBLK_F_CMD_IOCTL_ENCODE		(1ULL << 6)
#endif
#ifndef UBLK_F_USER_COPY
#define UBLK_F_USER_COPY		(1ULL << 7)
#endif
#ifndef UBLK_QID_OFF
#define UBLK_TAG_OFF			25
#define UBLK_QID_OFF			41
#endif
#ifndef UBLK_F_AUTO_BUF_REG
#define UBLK_F_AUTO_BUF_REG		(1ULL << 11)
#endif

/* The kernel's values (include/uapi/linux/ublk_cmd.h): a wrong direction bit
 * would turn GET_FEATURES into "no features". */
_Static_assert(UBLK_U_CMD_GET_FEATURES == 0x80207513, "GET_FEATURES");
_Static_assert(UBLK_U_CMD_GET_DEV_INFO == 0x80207502, "GET_DEV_INFO");
_Static_assert(UBLK_U_CMD_ADD_DEV == 0xc0207504, "ADD_DEV");
_Static_assert(UBLK_U_CMD_DEL_DEV == 0xc0207505, "DEL_DEV");
_Static_assert(UBLK_U_CMD_START_DEV == 0xc0207506, "START_DEV");
_Static_assert(UBLK_U_CMD_STOP_DEV == 0xc0207507, "STOP_DEV");
_Static_assert(UBLK_U_CMD_SET_PARAMS == 0xc0207508, "SET_PARAMS");
_Static_assert(UBLK_U_IO_FETCH_REQ == 0xc0107520, "FETCH_REQ");
_Static_assert(UBLK_U_IO_COMMIT_AND_FETCH_REQ == 0xc0107521, "COMMIT_AND_FETCH_REQ");
_Static_assert(sizeof(struct ublksrv_ctrl_cmd) == 32, "control command");
_Static_assert(sizeof(struct ublksrv_ctrl_dev_info) == 64, "device info");
_Static_assert(sizeof(struct ublksrv_io_cmd) == 16, "I/O command");
_Static_assert(sizeof(struct ublksrv_io_desc) == 24, "I/O descriptor");

/* Where queue q's descriptors are mapped from /dev/ublkcN (ublk_ch_mmap):
 * a stride of the largest queue's array, whatever the depth. */
#define UBLK_DESC_STRIDE(page) \
	(((UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc)) + (page) - 1) / (page) * (page))

#endif /* UZRAM_UBLK_UAPI_H */
