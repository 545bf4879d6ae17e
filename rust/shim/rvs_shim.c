// SPDX-License-Identifier: GPL-2.0
/*
 * Static registration tables and one-line wrappers for rvs.ko; see rvs_shim.h.
 * The tables mirror net/netfilter/ipvs (ip_vs_core.c hook ops, ip_vs_ctl.c genl family) so that
 * userspace sees the same ABI.
 */
#include <linux/module.h>
#include "rvs_shim.h"

MODULE_VERSION("0.1.0");

/* Same name, permissions and clamping range as ip_vs's conn_tab_bits (ip_vs_conn.c). */
static int conn_tab_bits = 12;
module_param(conn_tab_bits, int, 0444);
MODULE_PARM_DESC(conn_tab_bits, "Set connections' hash size as a power of two (8..20, default 12)");

int rvs_param_conn_tab_bits(void) { return READ_ONCE(conn_tab_bits); }
unsigned int rvs_hz(void) { return HZ; }

/* ip_vs_core.c ip_vs_ops4: the same hook points and priorities as IPVS. */
static const struct nf_hook_ops rvs_nf_ops[] = {
	{ .hook = rvs_rs_nf_out, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_IN,
	  .priority = NF_IP_PRI_NAT_SRC - 2 },
	{ .hook = rvs_rs_nf_in, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_IN,
	  .priority = NF_IP_PRI_NAT_SRC - 1 },
	{ .hook = rvs_rs_nf_out, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_OUT,
	  .priority = NF_IP_PRI_NAT_DST + 1 },
	{ .hook = rvs_rs_nf_in, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_OUT,
	  .priority = NF_IP_PRI_NAT_DST + 2 },
	{ .hook = rvs_rs_nf_forward_icmp, .pf = NFPROTO_IPV4, .hooknum = NF_INET_FORWARD,
	  .priority = 99 },
	{ .hook = rvs_rs_nf_out, .pf = NFPROTO_IPV4, .hooknum = NF_INET_FORWARD,
	  .priority = 100 },
};

int rvs_nf_register(struct net *net) { return nf_register_net_hooks(net, rvs_nf_ops, ARRAY_SIZE(rvs_nf_ops)); }
void rvs_nf_unregister(struct net *net) { nf_unregister_net_hooks(net, rvs_nf_ops, ARRAY_SIZE(rvs_nf_ops)); }

/* Per-netns state: one pointer, owned by the Rust side between rvs_rs_net_init and _exit. */
static unsigned int rvs_net_id __read_mostly;
static struct pernet_operations rvs_net_ops = {
	.init = rvs_rs_net_init,
	.exit = rvs_rs_net_exit,
	.id = &rvs_net_id,
	.size = sizeof(void *),
};

int rvs_pernet_register(void) { return register_pernet_subsys(&rvs_net_ops); }
void rvs_pernet_unregister(void) { unregister_pernet_subsys(&rvs_net_ops); }
void **rvs_net_slot(struct net *net) { return net_generic(net, rvs_net_id); }

/* ip_vs_ctl.c ip_vs_cmd_policy. */
static const struct nla_policy rvs_cmd_policy[IPVS_CMD_ATTR_MAX + 1] = {
	[IPVS_CMD_ATTR_SERVICE] = { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_DEST] = { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_DAEMON] = { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_TIMEOUT_TCP] = { .type = NLA_U32 },
	[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN] = { .type = NLA_U32 },
	[IPVS_CMD_ATTR_TIMEOUT_UDP] = { .type = NLA_U32 },
};

/* ip_vs_ctl.c ip_vs_daemon_policy. */
static const struct nla_policy rvs_daemon_policy[IPVS_DAEMON_ATTR_MAX + 1] = {
	[IPVS_DAEMON_ATTR_STATE] = { .type = NLA_U32 },
	[IPVS_DAEMON_ATTR_MCAST_IFN] = { .type = NLA_NUL_STRING, .len = IP_VS_IFNAME_MAXLEN - 1 },
	[IPVS_DAEMON_ATTR_SYNC_ID] = { .type = NLA_U32 },
	[IPVS_DAEMON_ATTR_SYNC_MAXLEN] = { .type = NLA_U16 },
	[IPVS_DAEMON_ATTR_MCAST_GROUP] = { .type = NLA_U32 },
	[IPVS_DAEMON_ATTR_MCAST_GROUP6] = { .len = sizeof(struct in6_addr) },
	[IPVS_DAEMON_ATTR_MCAST_PORT] = { .type = NLA_U16 },
	[IPVS_DAEMON_ATTR_MCAST_TTL] = { .type = NLA_U8 },
};

/* ip_vs_ctl.c ip_vs_svc_policy. */
static const struct nla_policy rvs_svc_policy[IPVS_SVC_ATTR_MAX + 1] = {
	[IPVS_SVC_ATTR_AF] = { .type = NLA_U16 },
	[IPVS_SVC_ATTR_PROTOCOL] = { .type = NLA_U16 },
	[IPVS_SVC_ATTR_ADDR] = { .type = NLA_BINARY, .len = sizeof(union nf_inet_addr) },
	[IPVS_SVC_ATTR_PORT] = { .type = NLA_U16 },
	[IPVS_SVC_ATTR_FWMARK] = { .type = NLA_U32 },
	[IPVS_SVC_ATTR_SCHED_NAME] = { .type = NLA_NUL_STRING, .len = IP_VS_SCHEDNAME_MAXLEN - 1 },
	[IPVS_SVC_ATTR_PE_NAME] = { .type = NLA_NUL_STRING, .len = IP_VS_PENAME_MAXLEN },
	[IPVS_SVC_ATTR_FLAGS] = { .type = NLA_BINARY, .len = sizeof(struct ip_vs_flags) },
	[IPVS_SVC_ATTR_TIMEOUT] = { .type = NLA_U32 },
	[IPVS_SVC_ATTR_NETMASK] = { .type = NLA_U32 },
	[IPVS_SVC_ATTR_STATS] = { .type = NLA_NESTED },
};

/* ip_vs_ctl.c ip_vs_dest_policy. */
static const struct nla_policy rvs_dest_policy[IPVS_DEST_ATTR_MAX + 1] = {
	[IPVS_DEST_ATTR_ADDR] = { .type = NLA_BINARY, .len = sizeof(union nf_inet_addr) },
	[IPVS_DEST_ATTR_PORT] = { .type = NLA_U16 },
	[IPVS_DEST_ATTR_FWD_METHOD] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_WEIGHT] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_U_THRESH] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_L_THRESH] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_ACTIVE_CONNS] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_INACT_CONNS] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_PERSIST_CONNS] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_STATS] = { .type = NLA_NESTED },
	[IPVS_DEST_ATTR_ADDR_FAMILY] = { .type = NLA_U16 },
	[IPVS_DEST_ATTR_TUN_TYPE] = { .type = NLA_U8 },
	[IPVS_DEST_ATTR_TUN_PORT] = { .type = NLA_U16 },
	[IPVS_DEST_ATTR_TUN_FLAGS] = { .type = NLA_U16 },
};

int rvs_parse_svc(struct nlattr **tb, const struct nlattr *nla)
{ return nla_parse_nested_deprecated(tb, IPVS_SVC_ATTR_MAX, nla, rvs_svc_policy, NULL); }
int rvs_parse_dest(struct nlattr **tb, const struct nlattr *nla)
{ return nla_parse_nested_deprecated(tb, IPVS_DEST_ATTR_MAX, nla, rvs_dest_policy, NULL); }
int rvs_parse_daemon(struct nlattr **tb, const struct nlattr *nla)
{ return nla_parse_nested_deprecated(tb, IPVS_DAEMON_ATTR_MAX, nla, rvs_daemon_policy, NULL); }
int rvs_parse_dump_request(struct nlattr **tb, struct netlink_callback *cb)
{ return nlmsg_parse_deprecated(cb->nlh, GENL_HDRLEN, tb, IPVS_CMD_ATTR_MAX, rvs_cmd_policy, cb->extack); }

/*
 * ip_vs_ctl.c ip_vs_genl_ops: every command, legacy (non-strict) validation, GENL_ADMIN_PERM.
 * All commands go to one Rust dispatcher each for doit and dumpit.
 */
#define RVS_OP(c, d, u) { .cmd = (c), .validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP, \
			  .flags = GENL_ADMIN_PERM, .doit = (d), .dumpit = (u) }
static const struct genl_small_ops rvs_genl_ops[] = {
	RVS_OP(IPVS_CMD_NEW_SERVICE, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_SET_SERVICE, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_DEL_SERVICE, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_GET_SERVICE, rvs_rs_genl_doit, rvs_rs_genl_dumpit),
	RVS_OP(IPVS_CMD_NEW_DEST, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_SET_DEST, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_DEL_DEST, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_GET_DEST, NULL, rvs_rs_genl_dumpit),
	RVS_OP(IPVS_CMD_NEW_DAEMON, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_DEL_DAEMON, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_GET_DAEMON, NULL, rvs_rs_genl_dumpit),
	RVS_OP(IPVS_CMD_SET_CONFIG, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_GET_CONFIG, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_GET_INFO, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_ZERO, rvs_rs_genl_doit, NULL),
	RVS_OP(IPVS_CMD_FLUSH, rvs_rs_genl_doit, NULL),
};

/* ip_vs_ctl.c ip_vs_genl_family. */
static struct genl_family rvs_genl_family __ro_after_init = {
	.hdrsize = 0,
	.name = IPVS_GENL_NAME,
	.version = IPVS_GENL_VERSION,
	.maxattr = IPVS_CMD_ATTR_MAX,
	.policy = rvs_cmd_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = rvs_genl_ops,
	.n_small_ops = ARRAY_SIZE(rvs_genl_ops),
	.resv_start_op = IPVS_CMD_FLUSH + 1,
};

int rvs_genl_register(void) { return genl_register_family(&rvs_genl_family); }
void rvs_genl_unregister(void) { genl_unregister_family(&rvs_genl_family); }

struct net *rvs_genl_info_net(const struct genl_info *info) { return genl_info_net(info); }
struct net *rvs_genl_dump_net(struct netlink_callback *cb) { return sock_net(cb->skb->sk); }
long *rvs_genl_dump_args(struct netlink_callback *cb) { return cb->args; }
u8 rvs_genl_dump_cmd(struct netlink_callback *cb) { return genl_dumpit_info(cb)->op.cmd; }
struct sk_buff *rvs_genlmsg_new(void) { return genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL); }
void rvs_nlmsg_free(struct sk_buff *skb) { nlmsg_free(skb); }
void *rvs_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info, u8 cmd)
{ return genlmsg_put_reply(skb, info, &rvs_genl_family, 0, cmd); }
void *rvs_genlmsg_put_dump(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{ return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, &rvs_genl_family, NLM_F_MULTI, cmd); }
void rvs_genlmsg_end(struct sk_buff *skb, void *hdr) { genlmsg_end(skb, hdr); }
void rvs_genlmsg_cancel(struct sk_buff *skb, void *hdr) { genlmsg_cancel(skb, hdr); }
int rvs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info) { return genlmsg_reply(skb, info); }
struct nlattr *rvs_nla_nest_start(struct sk_buff *skb, int attrtype) { return nla_nest_start_noflag(skb, attrtype); }
void rvs_nla_nest_end(struct sk_buff *skb, struct nlattr *start) { nla_nest_end(skb, start); }
void rvs_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start) { nla_nest_cancel(skb, start); }
int rvs_nla_put_u64(struct sk_buff *skb, int attrtype, u64 value, int padattr)
{ return nla_put_u64_64bit(skb, attrtype, value, padattr); }
int rvs_nla_len(const struct nlattr *nla) { return nla_len(nla); }
void *rvs_nla_data(const struct nlattr *nla) { return nla_data(nla); }

int rvs_ipv6_addr_type(const struct in6_addr *addr) { return ipv6_addr_type(addr); }
struct proc_dir_entry *rvs_net_proc_dir(struct net *net) { return net->proc_net; }
struct net *rvs_seq_file_net(struct seq_file *seq) { return seq_file_single_net(seq); }
void rvs_rcu_read_lock(void) { rcu_read_lock(); }
void rvs_rcu_read_unlock(void) { rcu_read_unlock(); }

bool rvs_skb_ipvs_property(const struct sk_buff *skb) { return skb->ipvs_property; }
void rvs_skb_set_ipvs_property(struct sk_buff *skb) { skb->ipvs_property = 1; }
u8 rvs_skb_pkt_type(const struct sk_buff *skb) { return skb->pkt_type; }
u32 rvs_skb_mark(const struct sk_buff *skb) { return skb->mark; }
unsigned int rvs_skb_len(const struct sk_buff *skb) { return skb->len; }
int rvs_skb_network_offset(const struct sk_buff *skb) { return skb_network_offset(skb); }
unsigned char *rvs_skb_network_header(const struct sk_buff *skb) { return skb_network_header(skb); }
const void *rvs_skb_header_pointer(const struct sk_buff *skb, int offset, int len, void *buffer)
{ return skb_header_pointer(skb, offset, len, buffer); }
bool rvs_skb_is_gso(const struct sk_buff *skb) { return skb_is_gso(skb); }
u8 rvs_skb_ip_summed(const struct sk_buff *skb) { return skb->ip_summed; }
bool rvs_skb_has_dst(const struct sk_buff *skb) { return skb_dst(skb) != NULL; }
unsigned int rvs_skb_dst_mtu(const struct sk_buff *skb) { return dst_mtu(skb_dst(skb)); }
bool rvs_skb_dst_is_local(const struct sk_buff *skb) { return skb_rtable(skb)->rt_flags & RTCF_LOCAL; }
bool rvs_skb_dst_dev_is_loopback(const struct sk_buff *skb) { return skb_dst(skb)->dev->flags & IFF_LOOPBACK; }
bool rvs_skb_has_dev(const struct sk_buff *skb) { return skb->dev != NULL; }
void rvs_skb_orphan(struct sk_buff *skb) { skb_orphan(skb); }
void rvs_skb_set_route(struct sk_buff *skb, struct rtable *rt) { skb_dst_drop(skb); skb_dst_set(skb, &rt->dst); }
void rvs_skb_set_ignore_df(struct sk_buff *skb) { skb->ignore_df = 1; }
void rvs_rt_put(struct rtable *rt) { ip_rt_put(rt); }
bool rvs_rt_is_local(const struct rtable *rt) { return rt->rt_flags & RTCF_LOCAL; }
unsigned int rvs_rt_mtu(const struct rtable *rt) { return dst_mtu(&rt->dst); }
unsigned int rvs_rt_reserved_space(const struct rtable *rt) { return LL_RESERVED_SPACE(rt->dst.dev); }
int rvs_skb_cow_head(struct sk_buff *skb, unsigned int headroom) { return skb_cow_head(skb, headroom); }
void rvs_skb_reset_network_header(struct sk_buff *skb) { skb_reset_network_header(skb); }
void rvs_skb_clear_ip_options(struct sk_buff *skb) { memset(&IPCB(skb)->opt, 0, sizeof(IPCB(skb)->opt)); }
void rvs_skb_set_transport_to_network(struct sk_buff *skb) { skb->transport_header = skb->network_header; }
void rvs_skb_set_inner_ipproto(struct sk_buff *skb, u8 proto) { skb_set_inner_ipproto(skb, proto); }
void rvs_skb_set_inner_mac_to_inner_network(struct sk_buff *skb) { skb_set_inner_mac_header(skb, skb_inner_network_offset(skb)); }
void rvs_ip_select_ident(struct net *net, struct sk_buff *skb) { ip_select_ident(net, skb, NULL); }
void rvs_skb_forward_csum(struct sk_buff *skb) { skb_forward_csum(skb); }
/* ip_vs.h ip_vs_notrack: the two inline calls that detach an skb from conntrack. */
void rvs_skb_notrack(struct sk_buff *skb) { nf_reset_ct(skb); nf_ct_set(skb, NULL, IP_CT_UNTRACKED); }
struct sock *rvs_skb_sk(const struct sk_buff *skb) { return skb->sk; }
void rvs_inet_proto_csum_replace2(__sum16 *sum, struct sk_buff *skb, __be16 from, __be16 to, bool pseudohdr)
{ inet_proto_csum_replace2(sum, skb, from, to, pseudohdr); }
void rvs_icmp_send(struct sk_buff *skb, int type, int code, __be32 info) { icmp_send(skb, type, code, info); }
unsigned int rvs_skb_headroom(const struct sk_buff *skb) { return skb_headroom(skb); }
unsigned int rvs_skb_headlen(const struct sk_buff *skb) { return skb_headlen(skb); }
unsigned char *rvs_skb_data(const struct sk_buff *skb) { return skb->data; }
void rvs_skb_reset_transport_header(struct sk_buff *skb) { skb_reset_transport_header(skb); }
void rvs_skb_set_transport_header(struct sk_buff *skb, int offset) { skb_set_transport_header(skb, offset); }
int rvs_skb_checksum_start_offset(const struct sk_buff *skb) { return skb_checksum_start_offset(skb); }
u16 rvs_skb_csum_offset(const struct sk_buff *skb) { return skb->csum_offset; }
/* ipvs_gue_encap: with remote checksum offload the inner checksum is left to the receiver. */
void rvs_skb_clear_partial_csum(struct sk_buff *skb) { skb->ip_summed = CHECKSUM_NONE; skb->encapsulation = 0; }
/* gre_build_header: the GRE checksum is computed on output, from the transport header on. */
void rvs_skb_csum_partial_at_transport(struct sk_buff *skb, u16 offset)
{ skb->ip_summed = CHECKSUM_PARTIAL; skb->csum_start = skb_transport_header(skb) - skb->head; skb->csum_offset = offset; }
unsigned int rvs_skb_gso_type(const struct sk_buff *skb) { return skb_shinfo(skb)->gso_type; }
void rvs_skb_set_inner_protocol(struct sk_buff *skb, __be16 protocol) { skb_set_inner_protocol(skb, protocol); }
__wsum rvs_lco_csum(struct sk_buff *skb) { return lco_csum(skb); }
__be16 rvs_udp_flow_src_port(struct net *net, struct sk_buff *skb) { return udp_flow_src_port(net, skb, 0, 0, false); }
bool rvs_pskb_pull(struct sk_buff *skb, unsigned int len) { return pskb_pull(skb, len) != NULL; }
bool rvs_pskb_may_pull(struct sk_buff *skb, unsigned int len) { return pskb_may_pull(skb, len); }
void rvs_skb_consume(struct sk_buff *skb) { consume_skb(skb); }
/* ip_vs_gather_frags: ip_defrag expects bottom halves disabled. */
int rvs_ip_defrag(struct net *net, struct sk_buff *skb, u32 user)
{ int err; local_bh_disable(); err = ip_defrag(net, skb, user); local_bh_enable(); return err; }

/* Two call sites of spin_lock_init, so that lockdep sees two lock classes. */
void rvs_conn_lock_init(spinlock_t *lock) { spin_lock_init(lock); }
void rvs_sched_lock_init(spinlock_t *lock) { spin_lock_init(lock); }
void rvs_spin_lock_bh(spinlock_t *lock) { spin_lock_bh(lock); }
void rvs_spin_unlock_bh(spinlock_t *lock) { spin_unlock_bh(lock); }
void rvs_timer_setup(struct timer_list *timer, void (*func)(struct timer_list *)) { timer_setup(timer, func, 0); }
unsigned long rvs_jiffies(void) { return jiffies; }
u32 rvs_random_u32_below(u32 ceil) { return get_random_u32_below(ceil); }
void __percpu *rvs_alloc_percpu(size_t size, size_t align) { return __alloc_percpu(size, align); }
void *rvs_per_cpu_ptr(void __percpu *ptr, int cpu) { return per_cpu_ptr(ptr, cpu); }
void *rvs_raw_cpu_ptr(void __percpu *ptr) { return raw_cpu_ptr(ptr); }
unsigned int rvs_next_possible_cpu(int cpu) { return cpumask_next(cpu, cpu_possible_mask); }
