namespace Exercises;
