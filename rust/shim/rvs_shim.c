// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers of static inline functions and macros for rvs.ko, and its module
 * parameter; see rvs_shim.h.
 */
#include <linux/module.h>
#include "rvs_shim.h"

MODULE_VERSION("0.1.0");

/* Same name, permissions and clamping range as ip_vs's conn_tab_bits (ip_vs_conn.c). */
static int conn_tab_bits = 12;
module_param(conn_tab_bits, int, 0444);
MODULE_PARM_DESC(conn_tab_bits, "Set connections' hash size as a power of two (8..27, default 12)");

int rvs_param_conn_tab_bits(void) { return READ_ONCE(conn_tab_bits); }
unsigned long rvs_totalram_pages(void) { return totalram_pages(); }

void *rvs_net_generic(const struct net *net, unsigned int id) { return net_generic(net, id); }
bool rvs_net_owned_by_init_user_ns(const struct net *net) { return net->user_ns == &init_user_ns; }
int rvs_nla_parse_nested(struct nlattr **tb, int max, const struct nlattr *nla, const struct nla_policy *policy)
{ return nla_parse_nested_deprecated(tb, max, nla, policy, NULL); }
int rvs_genl_parse_dump_request(struct nlattr **tb, int max, struct netlink_callback *cb, const struct nla_policy *policy)
{ return nlmsg_parse_deprecated(cb->nlh, GENL_HDRLEN, tb, max, policy, cb->extack); }

struct net *rvs_genl_info_net(const struct genl_info *info) { return genl_info_net(info); }
struct net *rvs_genl_dump_net(struct netlink_callback *cb) { return sock_net(cb->skb->sk); }
long *rvs_genl_dump_args(struct netlink_callback *cb) { return cb->args; }
u8 rvs_genl_dump_cmd(struct netlink_callback *cb) { return genl_dumpit_info(cb)->op.cmd; }
struct sk_buff *rvs_genlmsg_new(void) { return genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL); }
void rvs_nlmsg_free(struct sk_buff *skb) { nlmsg_free(skb); }
void *rvs_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info, u8 cmd)
{ return genlmsg_put_reply(skb, info, info->family, 0, cmd); }
void *rvs_genlmsg_put_dump(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{ return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, genl_dumpit_info(cb)->info.family, NLM_F_MULTI, cmd); }
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
void *rvs_seq_pde_data(const struct seq_file *seq) { return pde_data(file_inode(seq->file)); }
void rvs_rcu_read_lock(void) { rcu_read_lock(); }
void rvs_rcu_read_unlock(void) { rcu_read_unlock(); }

unsigned int rvs_skb_dst_mtu(const struct sk_buff *skb) { return dst_mtu(skb_dst(skb)); }
bool rvs_skb_dst_is_local(const struct sk_buff *skb) { return skb_rtable(skb)->rt_flags & RTCF_LOCAL; }
bool rvs_skb_dst_dev_is_loopback(const struct sk_buff *skb) { return skb_dst(skb)->dev->flags & IFF_LOOPBACK; }
void rvs_skb_orphan(struct sk_buff *skb) { skb_orphan(skb); }
/* ip_vs_send_or_cont: on through LOCAL_OUT to the route, the network header kept as it is. */
int rvs_nf_local_out_dst(struct net *net, struct sk_buff *skb, u8 pf) { return NF_HOOK(pf, NF_INET_LOCAL_OUT, net, NULL, skb, NULL, skb_dst(skb)->dev, dst_output); }
void rvs_rt_put(struct rtable *rt) { ip_rt_put(rt); }
void rvs_rt_hold(struct rtable *rt) { dst_hold(&rt->dst); }
/* __ip_vs_dst_check: whether a cached route still holds (IPv4 routes always have a check). */
bool rvs_rt_check(struct rtable *rt) { return !rt->dst.obsolete || rt->dst.ops->check(&rt->dst, 0); }
unsigned int rvs_rt_mtu(const struct rtable *rt) { return dst_mtu(&rt->dst); }
unsigned int rvs_rt_reserved_space(const struct rtable *rt) { return LL_RESERVED_SPACE(rt->dst.dev); }
int rvs_skb_cow_head(struct sk_buff *skb, unsigned int headroom) { return skb_cow_head(skb, headroom); }
void rvs_skb_reset_network_header(struct sk_buff *skb) { skb_reset_network_header(skb); }
void rvs_skb_clear_ip_options(struct sk_buff *skb) { memset(&IPCB(skb)->opt, 0, sizeof(IPCB(skb)->opt)); }
void rvs_skb_set_transport_to_network(struct sk_buff *skb) { skb->transport_header = skb->network_header; }
void rvs_skb_set_inner_ipproto(struct sk_buff *skb, u8 proto) { skb_set_inner_ipproto(skb, proto); }
void rvs_skb_set_inner_mac_to_inner_network(struct sk_buff *skb) { skb_set_inner_mac_header(skb, skb_inner_network_offset(skb)); }
void rvs_ip_select_ident(struct net *net, struct sk_buff *skb) { ip_select_ident(net, skb, NULL); }
/* ip_vs.h ip_vs_notrack: the two inline calls that detach an skb from conntrack. */
void rvs_skb_notrack(struct sk_buff *skb) { nf_reset_ct(skb); nf_ct_set(skb, NULL, IP_CT_UNTRACKED); }
struct sock *rvs_skb_sk(const struct sk_buff *skb) { return skb->sk; }
void rvs_inet_proto_csum_replace2(__sum16 *sum, struct sk_buff *skb, __be16 from, __be16 to, bool pseudohdr)
{ inet_proto_csum_replace2(sum, skb, from, to, pseudohdr); }
void rvs_icmp_send(struct sk_buff *skb, int type, int code, __be32 info) { icmp_send(skb, type, code, info); }
/* icmpv6_send finds the namespace by skb->dev: the new route's device (decrement_ttl) or loopback (ip_vs_leave). */
void rvs_icmpv6_send(struct sk_buff *skb, struct net *net, const struct dst_entry *via, u8 type, u8 code, __u32 info)
{ if (via) skb->dev = via->dev; else if (!skb->dev) skb->dev = net->loopback_dev; icmpv6_send(skb, type, code, info); }
/* __ip_vs_is_local_route6 */
bool rvs_dst_dev_is_loopback(const struct dst_entry *dst) { return dst->dev && dst->dev->flags & IFF_LOOPBACK; }
unsigned int rvs_dst_mtu(const struct dst_entry *dst) { return dst_mtu(dst); }
unsigned int rvs_dst_reserved_space(const struct dst_entry *dst) { return LL_RESERVED_SPACE(dst->dev); }
/* __ip_vs_route_output_v6: a tunnel header's source, chosen for the route's device. */
int rvs_ip6_dst_saddr(struct net *net, const struct dst_entry *dst, const struct in6_addr *daddr, struct in6_addr *saddr)
{ return ipv6_dev_get_saddr(net, ip6_dst_idev(dst)->dev, daddr, 0, saddr); }
void rvs_skb_clear_ip6cb(struct sk_buff *skb) { memset(IP6CB(skb), 0, sizeof(*IP6CB(skb))); }
/* __mtu_check_toobig_v6: the largest fragment of a packet IPv6 conntrack reassembled. */
u16 rvs_ip6cb_frag_max_size(const struct sk_buff *skb) { return IP6CB(skb)->frag_max_size; }
/* nf_defrag_ipv6's enable/disable, registered when it loads: reached without a link-time dependency (as nf_bpf_link does). Under rcu_read_lock. */
const struct nf_defrag_hook *rvs_nf_defrag_v6_hook(void) { return rcu_dereference(nf_defrag_v6_hook); }
int rvs_request_module(const char *name) { return request_module("%s", name); }
bool rvs_try_module_get(struct module *module) { return try_module_get(module); }
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

void rvs_spin_lock_bh(spinlock_t *lock) { spin_lock_bh(lock); }
void rvs_spin_unlock_bh(spinlock_t *lock) { spin_unlock_bh(lock); }
void rvs_timer_setup(struct timer_list *timer, void (*func)(struct timer_list *)) { timer_setup(timer, func, 0); }
u32 rvs_random_u32_below(u32 ceil) { return get_random_u32_below(ceil); }
void __percpu *rvs_alloc_percpu(size_t size, size_t align) { return __alloc_percpu(size, align); }
void *rvs_per_cpu_ptr(void __percpu *ptr, int cpu) { return per_cpu_ptr(ptr, cpu); }
/* Statistics: each this_cpu_add is one instruction that interrupts and preemption cannot split. */
void rvs_this_cpu_add2(u64 __percpu *c, size_t i, u64 a, size_t j, u64 b) { this_cpu_add(c[i], a); this_cpu_add(c[j], b); }
unsigned int rvs_next_possible_cpu(int cpu) { return cpumask_next(cpu, cpu_possible_mask); }

void *rvs_sk_user_data(const struct sock *sk) { return rcu_dereference_sk_user_data(sk); }
struct net *rvs_sock_net(const struct sock *sk) { return sock_net(sk); }
int rvs_skb_linearize(struct sk_buff *skb) { return skb_linearize(skb); }
int rvs_netdev_ifindex(const struct net_device *dev) { return dev->ifindex; }
unsigned int rvs_netdev_mtu(const struct net_device *dev) { return READ_ONCE(dev->mtu); }
int rvs_ip_setsockopt_int(struct sock *sk, int optname, int value) { return ip_setsockopt(sk, SOL_IP, optname, KERNEL_SOCKPTR(&value), sizeof(value)); }
int rvs_sock_setsockopt_int(struct socket *sock, int optname, int value) { return sock_setsockopt(sock, SOL_SOCKET, optname, KERNEL_SOCKPTR(&value), sizeof(value)); }
void rvs_init_delayed_work(struct delayed_work *work, void (*func)(struct work_struct *)) { INIT_DELAYED_WORK(work, func); }
bool rvs_queue_delayed_work(struct delayed_work *work, unsigned long delay) { return queue_delayed_work(system_wq, work, delay); }
bool rvs_mod_delayed_work(struct delayed_work *work, unsigned long delay) { return mod_delayed_work(system_wq, work, delay); }
