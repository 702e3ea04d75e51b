//! The seccomp filter a sandboxed job runs under: everything is allowed except the calls
//! below, which fail with EPERM (so programs that probe for them carry on):
//!
//! * debugging and reading other processes: `ptrace`, `process_vm_readv|writev`;
//! * changing mounts after the sandbox is set up: `mount`, `umount2`, `pivot_root`,
//!   `chroot`, and the new mount API (`fsopen`, `fsmount`, `fspick`, `open_tree`,
//!   `move_mount`, `mount_setattr`);
//! * new namespaces: `unshare`, `setns`, and `clone` with any `CLONE_NEW*` flag (`clone3`,
//!   whose flags a filter cannot read, answers ENOSYS so that the C library falls back to
//!   `clone`);
//! * kernel attack surface a build never needs: `bpf`, `perf_event_open`, `userfaultfd`,
//!   `keyctl`, `add_key`, `request_key`, `kexec_load`, `kexec_file_load`, `init_module`,
//!   `finit_module`, `delete_module`, `iopl`, `ioperm`, `acct`, `swapon`, `swapoff`,
//!   `reboot`, `syslog`, `quotactl`, `open_by_handle_at`, `name_to_handle_at`,
//!   `settimeofday`, `clock_settime`, `clock_adjtime`, `adjtimex`, `vhangup`;
//! * `personality` other than a query or the default, and `ioctl(TIOCSTI)` (typing into the
//!   terminal of whoever started the job).

use std::collections::BTreeMap;

use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// Denied outright.
#[cfg(target_arch = "x86_64")]
const DENIED_ARCH: &[i64] = &[libc::SYS_iopl, libc::SYS_ioperm];
#[cfg(not(target_arch = "x86_64"))]
const DENIED_ARCH: &[i64] = &[];

const DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_acct,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_syslog,
    libc::SYS_quotactl,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_vhangup,
];

/// Every `CLONE_NEW*` flag.
const NEW_NAMESPACES: [u64; 7] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWCGROUP as u64,
];

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op, value).map_err(|e| e.to_string())
}

/// The EPERM filter's rules.
fn denials() -> Result<BTreeMap<i64, Vec<SeccompRule>>, String> {
    let rule = |conds: Vec<SeccompCondition>| SeccompRule::new(conds).map_err(|e| e.to_string());
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED
        .iter()
        .chain(DENIED_ARCH)
        .map(|&n| (n, Vec::new()))
        .collect();
    // clone(flags, …): any new namespace.
    let clone = NEW_NAMESPACES
        .iter()
        .map(|&flag| rule(vec![cond(0, SeccompCmpOp::MaskedEq(flag), flag)?]))
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone);
    // personality(p): only the query (0xffffffff) and PER_LINUX (0).
    rules.insert(
        libc::SYS_personality,
        vec![rule(vec![
            cond(0, SeccompCmpOp::Ne, 0)?,
            cond(0, SeccompCmpOp::Ne, 0xffff_ffff)?,
        ])?],
    );
    // The kernel reads an ioctl's request as 32 bits: compare only those, or
    // `TIOCSTI | 1 << 32` would pass.
    let dword = |value: u64| {
        SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
            .map_err(|e| e.to_string())
    };
    rules.insert(
        libc::SYS_ioctl,
        vec![
            rule(vec![dword(libc::TIOCSTI)?])?,
            rule(vec![dword(libc::TIOCLINUX)?])?,
        ],
    );
    Ok(rules)
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: i32,
) -> Result<seccompiler::BpfProgram, String> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        ARCH,
    )
    .map_err(|e| format!("cannot build the seccomp filter: {e}"))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("cannot compile the seccomp filter: {e}"))
}

/// A filter that refuses (ENOSYS) every system call of the x32 ABI: their numbers carry bit
/// 30, match none of the rules above (which name x86_64 numbers), and would pass them.
#[cfg(target_arch = "x86_64")]
fn no_x32() -> seccompiler::BpfProgram {
    use seccompiler::sock_filter;
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const X32_BIT: u32 = 0x4000_0000;
    const RET_ERRNO: u32 = 0x0005_0000; // SECCOMP_RET_ERRNO
    const RET_ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        // The syscall number is at offset 0 of `struct seccomp_data`.
        ins(LD_W_ABS, 0, 0, 0),
        ins(JGE_K, 0, 1, X32_BIT),
        ins(RET_K, 0, 0, RET_ERRNO | libc::ENOSYS as u32),
        ins(RET_K, 0, 0, RET_ALLOW),
    ]
}

/// Installs the filters on this process (no-new-privs must be set).
pub(super) fn apply() -> Result<(), String> {
    #[cfg(target_arch = "x86_64")]
    seccompiler::apply_filter(&no_x32())
        .map_err(|e| format!("cannot apply the seccomp filter: {e}"))?;
    let eperm = compile(denials()?, libc::EPERM)?;
    let clone3 = compile(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        libc::ENOSYS,
    )?;
    for program in [eperm, clone3] {
        seccompiler::apply_filter(&program)
            .map_err(|e| format!("cannot apply the seccomp filter: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_filters_compile() {
        super::compile(super::denials().unwrap(), libc::EPERM).unwrap();
    }
}
