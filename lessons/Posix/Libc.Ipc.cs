using System.Runtime.InteropServices;

namespace Lessons.Posix;

static partial class Libc
{
    // <sys/shm.h> (Linux): #define SHM_LOCK 11, #define SHM_UNLOCK 12 (shmctl commands)
    public const int SHM_LOCK = 11;
    public const int SHM_UNLOCK = 12;

    // <sys/shm.h> (Linux): #define SHM_REMAP 040000 (shmat: replace what is mapped at shmaddr)
    public const int SHM_REMAP = 0x4000;

    // <sys/shm.h> (Linux): #define SHM_DEST 01000, #define SHM_LOCKED 02000 (bits of shm_perm.mode in IPC_STAT)
    public const int SHM_DEST = 0x200;
    public const int SHM_LOCKED = 0x400;

    // int shmget(key_t key, size_t size, int shmflg);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int shmget(int key, nuint size, int shmflg);

    // void *shmat(int shmid, const void *shmaddr, int shmflg);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint shmat(int shmid, nint shmaddr, int shmflg);

    // int shmdt(const void *shmaddr);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int shmdt(nint shmaddr);

    // int shmctl(int shmid, int cmd, struct shmid_ds *buf);
    [LibraryImport(Name, SetLastError = true)]
    public static unsafe partial int shmctl(int shmid, int cmd, ShmidDsNative* buf);

    // key_t ftok(const char *pathname, int proj_id);
    [LibraryImport(Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ftok(string pathname, int proj_id);
}

/// <summary>
/// <c>struct shmid_ds</c> on 64-bit Linux (x86-64 and arm64 share the offsets; <c>mode</c> is 16 bits on
/// x86-64 and 32 on arm64, and its low 16 bits sit at offset 20 on both). 112 bytes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 112)]
struct ShmidDsNative
{
    [FieldOffset(0)] public int key;
    [FieldOffset(4)] public uint uid;
    [FieldOffset(8)] public uint gid;
    [FieldOffset(12)] public uint cuid;
    [FieldOffset(16)] public uint cgid;
    [FieldOffset(20)] public ushort mode;
    [FieldOffset(48)] public nuint shm_segsz;
    [FieldOffset(56)] public long shm_atime;
    [FieldOffset(64)] public long shm_dtime;
    [FieldOffset(72)] public long shm_ctime;
    [FieldOffset(80)] public int shm_cpid;
    [FieldOffset(84)] public int shm_lpid;
    [FieldOffset(88)] public nuint shm_nattch;
}
