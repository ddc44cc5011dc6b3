/*
 * NAME
 *	version - the release of realmchat, reported by realmctl status
 */
#ifndef RC_VERSION_H
#define RC_VERSION_H

#define REALMCHAT_VERSION	"0.1.0"

#endif
