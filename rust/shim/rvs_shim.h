/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of rvs.ko: one-line wrappers of static inline functions and macros, and the module
 * parameter (module_param builds a static table). No logic lives here; the registration
 * tables (netfilter hooks, the genetlink family, pernet operations, /proc files) are built in
 * rust/ffi/ from the traits the module implements.
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
#include <net/ip6_route.h>
#include <linux/icmpv6.h>
#include <linux/netfilter_ipv6.h>
#include <linux/icmp.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/user_namespace.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/ip_tunnels.h>
#include <net/udp.h>
#include <net/checksum.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/udp_tunnel.h>
#include <linux/igmp.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/workqueue.h>

/* Module parameters and configuration. */
int rvs_param_conn_tab_bits(void);
/* CONFIG_HZ, as a constant bindgen evaluates: the HZ macro it sees is the uapi's USER_HZ. */
enum { RVS_HZ = HZ };
unsigned long rvs_totalram_pages(void);

/* Namespaces. */
void *rvs_net_generic(const struct net *net, unsigned int id);
bool rvs_net_owned_by_init_user_ns(const struct net *net);

/* Generic netlink: parsing with a family's policies (legacy validation). */
int rvs_nla_parse_nested(struct nlattr **tb, int max, const struct nlattr *nla, const struct nla_policy *policy);
int rvs_genl_parse_dump_request(struct nlattr **tb, int max, struct netlink_callback *cb, const struct nla_policy *policy);

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
void *rvs_seq_pde_data(const struct seq_file *seq);
void rvs_rcu_read_lock(void);
void rvs_rcu_read_unlock(void);

/* Socket buffers on the packet path. */
unsigned int rvs_skb_dst_mtu(const struct sk_buff *skb);
bool rvs_skb_dst_is_local(const struct sk_buff *skb);
bool rvs_skb_dst_dev_is_loopback(const struct sk_buff *skb);
void rvs_skb_orphan(struct sk_buff *skb);
int rvs_nf_local_out_dst(struct net *net, struct sk_buff *skb, u8 pf);
void rvs_rt_hold(struct rtable *rt);
bool rvs_rt_check(struct rtable *rt);
void rvs_rt_put(struct rtable *rt);
unsigned int rvs_rt_mtu(const struct rtable *rt);
unsigned int rvs_rt_reserved_space(const struct rtable *rt);
int rvs_skb_cow_head(struct sk_buff *skb, unsigned int headroom);
void rvs_skb_reset_network_header(struct sk_buff *skb);
void rvs_skb_clear_ip_options(struct sk_buff *skb);
void rvs_skb_set_transport_to_network(struct sk_buff *skb);
void rvs_skb_set_inner_ipproto(struct sk_buff *skb, u8 proto);
void rvs_skb_set_inner_mac_to_inner_network(struct sk_buff *skb);
void rvs_ip_select_ident(struct net *net, struct sk_buff *skb);
void rvs_skb_notrack(struct sk_buff *skb);
struct sock *rvs_skb_sk(const struct sk_buff *skb);
void rvs_inet_proto_csum_replace2(__sum16 *sum, struct sk_buff *skb, __be16 from, __be16 to, bool pseudohdr);
void rvs_icmp_send(struct sk_buff *skb, int type, int code, __be32 info);
void rvs_icmpv6_send(struct sk_buff *skb, struct net *net, const struct dst_entry *via, u8 type, u8 code, __u32 info);
bool rvs_dst_dev_is_loopback(const struct dst_entry *dst);
unsigned int rvs_dst_mtu(const struct dst_entry *dst);
unsigned int rvs_dst_reserved_space(const struct dst_entry *dst);
int rvs_ip6_dst_saddr(struct net *net, const struct dst_entry *dst, const struct in6_addr *daddr, struct in6_addr *saddr);
void rvs_skb_clear_ip6cb(struct sk_buff *skb);
u16 rvs_ip6cb_frag_max_size(const struct sk_buff *skb);
const struct nf_defrag_hook *rvs_nf_defrag_v6_hook(void);
int rvs_request_module(const char *name);
bool rvs_try_module_get(struct module *module);
unsigned int rvs_skb_headroom(const struct sk_buff *skb);
unsigned int rvs_skb_headlen(const struct sk_buff *skb);
unsigned char *rvs_skb_data(const struct sk_buff *skb);
void rvs_skb_reset_transport_header(struct sk_buff *skb);
void rvs_skb_set_transport_header(struct sk_buff *skb, int offset);
int rvs_skb_checksum_start_offset(const struct sk_buff *skb);
u16 rvs_skb_csum_offset(const struct sk_buff *skb);
void rvs_skb_clear_partial_csum(struct sk_buff *skb);
void rvs_skb_csum_partial_at_transport(struct sk_buff *skb, u16 offset);
unsigned int rvs_skb_gso_type(const struct sk_buff *skb);
void rvs_skb_set_inner_protocol(struct sk_buff *skb, __be16 protocol);
__wsum rvs_lco_csum(struct sk_buff *skb);
__be16 rvs_udp_flow_src_port(struct net *net, struct sk_buff *skb);
bool rvs_pskb_pull(struct sk_buff *skb, unsigned int len);
bool rvs_pskb_may_pull(struct sk_buff *skb, unsigned int len);
void rvs_skb_consume(struct sk_buff *skb);
int rvs_ip_defrag(struct net *net, struct sk_buff *skb, u32 user);

/* Locks, timers, per-cpu memory, time, randomness. */
void rvs_spin_lock_bh(spinlock_t *lock);
void rvs_spin_unlock_bh(spinlock_t *lock);
void rvs_timer_setup(struct timer_list *timer, void (*func)(struct timer_list *));
u32 rvs_random_u32_below(u32 ceil);
void __percpu *rvs_alloc_percpu(size_t size, size_t align);
void *rvs_per_cpu_ptr(void __percpu *ptr, int cpu);
void rvs_this_cpu_add2(u64 __percpu *c, size_t i, u64 a, size_t j, u64 b);
unsigned int rvs_next_possible_cpu(int cpu);

/* Kernel sockets and interfaces (the sync daemon). */
void *rvs_sk_user_data(const struct sock *sk);
struct net *rvs_sock_net(const struct sock *sk);
int rvs_skb_linearize(struct sk_buff *skb);
int rvs_netdev_ifindex(const struct net_device *dev);
unsigned int rvs_netdev_mtu(const struct net_device *dev);
int rvs_ip_setsockopt_int(struct sock *sk, int optname, int value);
int rvs_sock_setsockopt_int(struct socket *sock, int optname, int value);
void rvs_init_delayed_work(struct delayed_work *work, void (*func)(struct work_struct *));
bool rvs_queue_delayed_work(struct delayed_work *work, unsigned long delay);
bool rvs_mod_delayed_work(struct delayed_work *work, unsigned long delay);

#endif /* RVS_SHIM_H */
