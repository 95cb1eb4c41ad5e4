namespace Lessons;
