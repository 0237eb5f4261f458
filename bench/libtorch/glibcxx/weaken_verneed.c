/* weaken_verneed FILE VERSION: marks FILE's version need VERSION (e.g. GLIBCXX_3.4.32) weak (VER_FLG_WEAK), in place.
 *
 * Why: TorchSharp 0.107.0's libLibTorchSharp.so was linked against GCC 13's libstdc++ and records a need for
 * GLIBCXX_3.4.32, only because <iostream> in GCC 13 emits an undefined reference to std::ios_base_library_init()
 * (there is no relocation against it; it is never called or bound). Debian 12's libstdc++ stops at GLIBCXX_3.4.30, so
 * ld.so refuses to load the library ("version `GLIBCXX_3.4.32' not found"). A weak version need is only reported, not
 * fatal. An LD_PRELOADed library that defines the symbol under GLIBCXX_3.4.32 does not help: ld.so checks a version need
 * against the verdefs of the object the need names (libstdc++.so.6), not against the global scope.
 *
 * Only the flags field of one Vernaux entry changes; running it again is a no-op. Exit 0 when the need is weak after
 * the run, 1 when the file has no such need or cannot be patched. ELF64 little-endian only (x86-64, aarch64). */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: %s FILE VERSION\n", argv[0]); return 2; }
    int fd = open(argv[1], O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { perror(argv[1]); return 1; }
    unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    Elf64_Ehdr *eh = (Elf64_Ehdr *)p;
    if ((size_t)st.st_size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64
        || eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > (size_t)st.st_size)
    { fprintf(stderr, "%s: not a little-endian ELF64 file with section headers\n", argv[1]); return 1; }
    Elf64_Shdr *sh = (Elf64_Shdr *)(p + eh->e_shoff);
    int found = 0;
    for (int i = 0; i < eh->e_shnum; i++)
    {
        if (sh[i].sh_type != SHT_GNU_verneed) continue;
        const char *strtab = (const char *)(p + sh[sh[i].sh_link].sh_offset);
        unsigned char *vn = p + sh[i].sh_offset;
        for (;;)
        {
            Elf64_Verneed *need = (Elf64_Verneed *)vn;
            unsigned char *va = vn + need->vn_aux;
            for (int k = 0; k < need->vn_cnt; k++)
            {
                Elf64_Vernaux *aux = (Elf64_Vernaux *)va;
                if (strcmp(strtab + aux->vna_name, argv[2]) == 0)
                {
                    int was = aux->vna_flags & VER_FLG_WEAK;
                    aux->vna_flags |= VER_FLG_WEAK;
                    printf("%s: need %s from %s: %s\n", argv[1], argv[2], strtab + need->vn_file, was ? "already weak" : "made weak");
                    found = 1;
                }
                if (aux->vna_next == 0) break;
                va += aux->vna_next;
            }
            if (need->vn_next == 0) break;
            vn += need->vn_next;
        }
    }
    if (!found) fprintf(stderr, "%s: no version need %s\n", argv[1], argv[2]);
    if (msync(p, (size_t)st.st_size, MS_SYNC) != 0) { perror("msync"); return 1; }
    munmap(p, (size_t)st.st_size);
    close(fd);
    return found ? 0 : 1;
}
