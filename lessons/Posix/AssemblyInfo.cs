using System.Runtime.Versioning;

// Linux's libc only: the platform analyzer flags any caller that is not Linux-only itself.
[assembly: SupportedOSPlatform("linux")]
