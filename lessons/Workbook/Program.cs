namespace Workbook;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: workbook <command> [options]");
        return 2;
    }
}
