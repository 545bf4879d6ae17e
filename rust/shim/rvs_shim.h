/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of rvs.ko: static registration tables that Rust cannot express (netfilter hook ops,
 * the generic netlink family with its ops and policies, pernet operations, module parameters) and
 * one-line wrappers of static inline functions and macros. No logic lives here.
 *
 * This header is also the input of the module-local bindgen run (see Kbuild).
 */
#ifndef RVS_SHIM_H
#define RVS_SHIM_H

#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/sysctl.h>
#include <linux/inetdevice.h>
#include <net/addrconf.h>
#include <net/route.h>
#include <net/ipv6.h>
#include <uapi/linux/ip_vs.h>

/* Entry points implemented in Rust (rust/ffi/), referenced by the tables in rvs_shim.c. */
int rvs_rs_genl_doit(struct sk_buff *skb, struct genl_info *info);
int rvs_rs_genl_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
unsigned int rvs_rs_nf_in(void *priv, struct sk_buff *skb, const struct nf_hook_state *state);
unsigned int rvs_rs_nf_out(void *priv, struct sk_buff *skb, const struct nf_hook_state *state);
unsigned int rvs_rs_nf_forward_icmp(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state);
int rvs_rs_net_init(struct net *net);
void rvs_rs_net_exit(struct net *net);

/* Module parameters and configuration. */
int rvs_param_conn_tab_bits(void);
unsigned int rvs_hz(void);

/* Registration of the static tables. */
int rvs_genl_register(void);
void rvs_genl_unregister(void);
int rvs_pernet_register(void);
void rvs_pernet_unregister(void);
int rvs_nf_register(struct net *net);
void rvs_nf_unregister(struct net *net);
void **rvs_net_slot(struct net *net);

/* Generic netlink: parsing nested attributes with IPVS's policies (legacy validation). */
int rvs_parse_svc(struct nlattr **tb, const struct nlattr *nla);
int rvs_parse_dest(struct nlattr **tb, const struct nlattr *nla);
int rvs_parse_daemon(struct nlattr **tb, const struct nlattr *nla);
int rvs_parse_dump_request(struct nlattr **tb, struct netlink_callback *cb);

/* Generic netlink messages. */
struct net *rvs_genl_dump_net(struct netlink_callback *cb);
long *rvs_genl_dump_args(struct netlink_callback *cb);
struct net *rvs_genl_info_net(const struct genl_info *info);
u8 rvs_genl_dump_cmd(struct netlink_callback *cb);
struct sk_buff *rvs_genlmsg_new(void);
void rvs_nlmsg_free(struct sk_buff *skb);
void *rvs_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info, u8 cmd);
void *rvs_genlmsg_put_dump(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd);
void rvs_genlmsg_end(struct sk_buff *skb, void *hdr);
void rvs_genlmsg_cancel(struct sk_buff *skb, void *hdr);
int rvs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
struct nlattr *rvs_nla_nest_start(struct sk_buff *skb, int attrtype);
void rvs_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
void rvs_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start);
int rvs_nla_put_u64(struct sk_buff *skb, int attrtype, u64 value, int padattr);
int rvs_nla_len(const struct nlattr *nla);
void *rvs_nla_data(const struct nlattr *nla);

/* Addresses, /proc and sysctl. */
int rvs_ipv6_addr_type(const struct in6_addr *addr);
struct proc_dir_entry *rvs_net_proc_dir(struct net *net);
struct net *rvs_seq_file_net(struct seq_file *seq);
void rvs_rcu_read_lock(void);
void rvs_rcu_read_unlock(void);

#endif /* RVS_SHIM_H */
