namespace Lessons.L02_MallocFamily;

/// <summary>A fake student, as Bogus makes them.</summary>
public sealed record Student(string Name, string Email, string Course);

/// <summary>A student whose three strings live on a checking heap.</summary>
public sealed record StoredStudent(Student Student, nint Name, nint Email, nint Course)
{
    /// <summary>The bytes the three C strings take: UTF-8 and a 0 byte each.</summary>
    public long Bytes => MallocFamily.CStringSize(Student.Name) + MallocFamily.CStringSize(Student.Email) + MallocFamily.CStringSize(Student.Course);
}

/// <summary>A batch stored on a checking heap, of which every k-th record was deliberately not freed.</summary>
public sealed record StudentBatch(int Seed, int LeakEvery, IReadOnlyList<StoredStudent> Students, IReadOnlyList<StoredStudent> Leaked)
{
    public long LeakedBytes => Leaked.Sum(s => s.Bytes);
    public int LeakedBlocks => Leaked.Count * 3;

    public override string ToString() =>
        $"seed {Seed}: stored {Students.Count} students, freed all but every {LeakEvery}th: leaked {Leaked.Count} students = {LeakedBlocks} blocks, {LeakedBytes:N0} bytes";
}
